#!/usr/bin/env bash
# A coding agent as a CI script would be one: bash, curl, grep, sed and awk, no JSON tool.
#
# It reads the variables a cell gives every program (OPENAI_BASE_URL, OPENAI_API_KEY,
# KYLECODE_MODEL, KYLECODE_STREAMING, KYLECODE_TASK_FILE, KYLECODE_MAX_STEPS and the
# KYLECODE_*_TIMEOUT_S), talks Chat Completions with curl and picks its answers apart as text:
# one tool call per turn (list_dir, write_file, mark_task_complete), run in the current directory
# (the cell's workspace). Recovery: a failed transfer, an HTTP error, a body that is not JSON, a
# stream that ends before its finish or with an error event: asked again, up to three attempts
# per turn; a 429 first waits its Retry-After. Arguments that are no JSON object get an error
# result and are not run. It writes no report: the harness reads the run from its exit code
# (0: completed) and from the requests it sent.
set -u

url="${OPENAI_BASE_URL%/}/chat/completions"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A JSON string literal of stdin (the last newline dropped).
json_string() {
  awk 'BEGIN { ORS = ""; print "\"" }
       { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r")
         if (NR > 1) print "\\n"; print }
       END { print "\"" }'
}

# The text a JSON string literal's contents (without the quotes) stand for.
json_unescape() {
  awk 'BEGIN { ORS = "" }
       { if (NR > 1) print "\n"
         out = ""; s = $0
         while ((i = index(s, "\\")) > 0) {
           out = out substr(s, 1, i - 1); c = substr(s, i + 1, 1); s = substr(s, i + 2)
           if (c == "n") out = out "\n"; else if (c == "t") out = out "\t"; else if (c == "r") out = out "\r"
           else out = out c
         }
         print out s }'
}

# The escaped contents of the string value of "key" in the JSON text on stdin, the first one.
json_field() {
  grep -o "\"$1\":\"\\([^\"\\\\]\\|\\\\.\\)*\"" | head -n 1 | sed "s/^\"$1\":\"//; s/\"\$//"
}

# One turn: writes the assistant's answer to $work/body; 0 when it is usable.
ask() {
  local code rc kind wait
  code="$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' \
    --connect-timeout "$KYLECODE_CONNECT_TIMEOUT_S" -y "$KYLECODE_IDLE_TIMEOUT_S" -Y 1 \
    -H 'content-type: application/json' -H "authorization: Bearer $OPENAI_API_KEY" \
    --data-binary @"$work/request" "$url")"
  rc=$?
  if [ "$rc" -ne 0 ]; then echo "curl failed ($rc)" >&2; return 1; fi
  if [ "$code" = 429 ]; then
    wait="$(grep -i '^retry-after:' "$work/headers" | tr -d '\r' | awk '{ print $2 }')"
    echo "HTTP 429: waiting ${wait:-1} s" >&2
    sleep "${wait:-1}"
    return 1
  fi
  if [ "$code" != 200 ]; then echo "HTTP $code" >&2; return 1; fi
  kind="$(grep -i '^content-type:' "$work/headers" | tr -d '\r')"
  case "$kind" in
    *text/event-stream*)
      if grep -q '^data: {"error"' "$work/body"; then echo "error event in the stream" >&2; return 1; fi
      if ! grep -q '"finish_reason":"[a-z_]*"' "$work/body"; then echo "the stream ended early" >&2; return 1; fi ;;
    *application/json*)
      if ! grep -q '"choices"' "$work/body"; then echo "no chat completion in the body" >&2; return 1; fi ;;
    *) echo "not JSON but ${kind:-no content type}" >&2; return 1 ;;
  esac
  return 0
}

messages="[{\"role\":\"system\",\"content\":\"You are a careful coding agent. Call mark_task_complete when done.\"},"
messages+="{\"role\":\"user\",\"content\":$(json_string < "$KYLECODE_TASK_FILE")}]"
tools='[{"type":"function","function":{"name":"list_dir","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}},'
tools+='{"type":"function","function":{"name":"write_file","parameters":{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}}},'
tools+='{"type":"function","function":{"name":"mark_task_complete","parameters":{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]}}}]'

step=0
while [ "$step" -lt "$KYLECODE_MAX_STEPS" ]; do
  step=$((step + 1))
  printf '{"model":"%s","stream":%s,"messages":%s,"tools":%s}' \
    "$KYLECODE_MODEL" "$KYLECODE_STREAMING" "$messages" "$tools" > "$work/request"
  attempt=1
  until ask; do
    if [ "$attempt" -ge 3 ]; then echo "giving up on turn $step" >&2; exit 1; fi
    attempt=$((attempt + 1))
  done
  # The call's id, name and arguments (still escaped); a stream carries the arguments in pieces.
  id="$(sed -n 's/.*"tool_calls":\[{\("index":[0-9]*,\)\{0,1\}"id":"\([^"]*\)".*/\2/p' "$work/body" | head -n 1)"
  name="$(json_field name < "$work/body")"
  if [ "$KYLECODE_STREAMING" = true ]; then
    arguments="$(grep '^data: {' "$work/body" | while IFS= read -r line; do printf '%s\n' "$line" | json_field arguments; done | tr -d '\n')"
  else
    arguments="$(json_field arguments < "$work/body")"
  fi
  if [ -z "$id" ]; then echo "the model called no tool" >&2; exit 1; fi
  messages="${messages%]},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"$id\",\"type\":\"function\",\"function\":{\"name\":\"$name\",\"arguments\":\"$arguments\"}}]}]"
  args="$(printf '%s' "$arguments" | json_unescape)"
  case "$args" in
    '{'*'}') ;;
    *) output="error: the arguments are not a JSON object; nothing was run"; name="(malformed)" ;;
  esac
  case "$name" in
    list_dir) output="$(ls -p "$(printf '%s' "$args" | json_field path | json_unescape)")" ;;
    write_file)
      path="$(printf '%s' "$args" | json_field path | json_unescape)"
      case "$path" in /*|*..*) output="error: the path leaves the workspace" ;;
        *) printf '%s' "$args" | json_field content | json_unescape > "$path"; output="wrote $path" ;;
      esac ;;
    mark_task_complete) echo "done in $step turns"; exit 0 ;;
    "(malformed)") ;;
    *) output="error: no tool named $name" ;;
  esac
  messages="${messages%]},{\"role\":\"tool\",\"tool_call_id\":\"$id\",\"content\":$(printf '%s\n' "$output" | json_string)}]"
done
echo "out of steps" >&2
exit 1
