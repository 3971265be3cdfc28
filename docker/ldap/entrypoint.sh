#!/bin/sh
# slapd with an mdb database for dc=riskops,dc=local and the memberOf overlay; the people and groups of
# directory.ldif added through the running server (so the overlay writes each person's memberOf), their
# password LDAP_USERS_PASSWORD, the manager's LDAP_ADMIN_PASSWORD. Then slapd in the foreground, as openldap.
set -eu
[ -n "${LDAP_ADMIN_PASSWORD:-}" ] || { echo "error: LDAP_ADMIN_PASSWORD is not set" >&2; exit 1; }
[ -n "${LDAP_USERS_PASSWORD:-}" ] || { echo "error: LDAP_USERS_PASSWORD is not set" >&2; exit 1; }
conf=/tmp/slapd.conf
base="dc=riskops,dc=local"
admin="cn=admin,$base"
cat > "$conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile /tmp/slapd.pid
database mdb
suffix "$base"
rootdn "$admin"
rootpw $(slappasswd -s "$LDAP_ADMIN_PASSWORD")
directory /var/lib/ldap
maxsize 104857600
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
CONF
chown openldap:openldap "$conf"
rm -rf /var/lib/ldap/*
slapd -f "$conf" -h "ldap://127.0.0.1:389/" -u openldap -g openldap
for _ in $(seq 50); do ldapsearch -x -H ldap://127.0.0.1/ -b '' -s base >/dev/null 2>&1 && break; sleep 0.2; done
umask 077
printf '%s' "$LDAP_ADMIN_PASSWORD" > /tmp/admin.pw
sed "s|@USERS_PASSWORD@|$(slappasswd -s "$LDAP_USERS_PASSWORD")|" /etc/ldap/riskops/directory.ldif > /tmp/directory.ldif
ldapadd -x -H ldap://127.0.0.1/ -D "$admin" -y /tmp/admin.pw -f /tmp/directory.ldif >/dev/null
rm -f /tmp/admin.pw /tmp/directory.ldif
kill "$(cat /tmp/slapd.pid)"
while [ -e /tmp/slapd.pid ]; do sleep 0.1; done
echo "directory $base ready"
exec slapd -f "$conf" -h "ldap:///" -u openldap -g openldap -d 0
