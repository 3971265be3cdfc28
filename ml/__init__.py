"""riskops domain code, pure typed Python with no Airflow import: the same functions run in tests, in the
CLI (`python -m ml`) and in containers.

Shared modules at the top (cli, config, errors, dates, layout, storage, metrics, bins, rating, versions, mails, cpu);
one subpackage per capability, each importing only those before it: `data` (specs, raw files, landing folders,
validation, preprocessing, replay, labels), `model` (features, training, the saved model, the MLflow registry,
retraining), `scoring` (policy, batch and on-demand scoring) and `monitor` (monitoring of models in production).
No import cycle between them (tests/ml/test_import_graph.py).
"""
