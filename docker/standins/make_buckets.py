"""Create the buckets named on the command line in the S3 server at AWS_ENDPOINT_URL (minio-init's job in
docker/compose/local-images.yaml); existing ones are kept."""

from __future__ import annotations

import sys

import boto3


def main(buckets: list[str]) -> int:
    s3 = boto3.client("s3")  # endpoint, credentials and region from the AWS_* environment
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
        print(f"bucket {bucket} {'exists' if bucket in existing else 'created'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
