# Sourced by the bench scripts that run hotlined with Kafka (TANSU, DIR set):
# `start_kafka PREFIX` starts a tansu broker of the script's own on a free
# port (PORT; its pid in TP, for the caller's trap), creates the topics
# PREFIX.<name> and writes $DIR/hotlined.toml with the [kafka] section
# naming them (consume = false: gRPC intake, outputs through the outbox).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_kafka() {
  local prefix=$1 t
  PORT=$(free_port)
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
    --storage-engine memory://tansu/ > "$DIR/tansu.log" 2>&1 &
  TP=$!
  sleep 2
  for t in contacts call-events order-events decisions alerts stats dlq; do
    "$TANSU" topic create --broker "tcp://127.0.0.1:$PORT" --partitions 1 "$prefix.$t" > /dev/null
  done
  cat > "$DIR/hotlined.toml" <<TOML
[kafka]
brokers = "127.0.0.1:$PORT"
group_id = "$prefix"
consume = false
[kafka.topics]
contacts = "$prefix.contacts"
call_events = "$prefix.call-events"
order_events = "$prefix.order-events"
decisions = "$prefix.decisions"
alerts = "$prefix.alerts"
stats = "$prefix.stats"
dlq = "$prefix.dlq"
TOML
}
