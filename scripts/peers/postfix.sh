#!/usr/bin/env bash
# A private Postfix (Debian's postfix package) on 127.0.0.1:PORT, to measure and test Tern against.
# usage: postfix.sh PORT discard          # accept into Postfix's durable queue, deliver to discard(8)
#        postfix.sh PORT relay RELAYPORT  # accept, queue, relay via smtp(8) to 127.0.0.1:RELAYPORT
#        postfix.sh PORT stop             # stop the instance started on PORT
# Optional POSTFIX_MAIN_CF: more main.cf settings, one "name = value" a line, applied over those written here
# (the interop tests set host names, TLS and recipient restrictions this way).
# Config, queue and log live under $PEERS_DIR/postfix-PORT (default ${TMPDIR:-/tmp}/tern-peers).
# Prints the master PID. Needs root (Postfix drops to its own user). Stop: postfix -c DIR/etc stop.
set -eu
PORT=$1 MODE=$2 RPORT=${3:-}
D=${PEERS_DIR:-${TMPDIR:-/tmp}/tern-peers}/postfix-$PORT
case $MODE in
  discard) NEXT="discard:" ;;
  relay)   NEXT="smtp:[127.0.0.1]:${RPORT:?relay needs RELAYPORT}" ;;
  stop)    exec postfix -c "$D/etc" stop ;;
  *) echo "mode must be discard|relay|stop" >&2; exit 2 ;;
esac
mkdir -p "$D/etc" "$D/spool" "$D/data" && chown postfix "$D/data"
cat > "$D/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $D/spool
data_directory = $D/data
maillog_file = $D/maillog
maillog_file_prefixes = /
myhostname = mta.test
mydomain = test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
default_transport = $NEXT
relay_transport = $NEXT
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
CF
# Stock Debian master.cf, minus the port-25 listener and chroot, plus our loopback listener.
MASTER=/etc/postfix/master.cf
[ -f $MASTER ] || MASTER=/usr/share/postfix/master.cf.dist   # "No configuration" installs may lack it
sed -e '/^smtp[[:space:]]\+inet/d' \
    -e '/^[a-z]/ s/^\(\S\+\s\+\S\+\s\+\S\+\s\+\S\+\s\+\)y\(\s\)/\1n\2/' \
    $MASTER > "$D/etc/master.cf"
echo "127.0.0.1:$PORT inet n - n - - smtpd" >> "$D/etc/master.cf"
while IFS= read -r SETTING; do
  if [ -n "$SETTING" ]; then postconf -c "$D/etc" -e "$SETTING"; fi
done <<< "${POSTFIX_MAIN_CF:-}"
script -qec "postfix -c $D/etc check" /dev/null   # pty: postfix only prints errors to a tty
postfix -c "$D/etc" start >/dev/null 2>&1
for _ in $(seq 50); do [ -s "$D/spool/pid/master.pid" ] && break; sleep 0.1; done
tr -d ' ' < "$D/spool/pid/master.pid"
