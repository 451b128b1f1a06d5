#!/bin/bash
# Depth 1 against depth 2 (issue 31): deep-research against the loopback server in its own process, which plays
# the planner (a three-angle plan) and the follow-up planner (two angles), under each strategy, cache off.
#     bench/waves_depth.sh            (from the checkout, after scripts/setup; prints calls, branches, tokens, wall)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="$here/.venv/bin/python"
work="$(mktemp -d)"
trap 'kill "${dev:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"  # not the checkout: its own fanout/ folder would shadow the installed package
export FANOUT_HOME="$work/home"
cat > plan.json <<'JSON'
{"angles": [{"title": "Electrolyte chemistry", "brief": "Sulfide versus oxide electrolytes.", "after": []},
 {"title": "Manufacturing at scale", "brief": "Who can build them.", "after": []},
 {"title": "Market outlook", "brief": "When cars get them.", "after": ["Electrolyte chemistry", "Manufacturing at scale"]}]}
JSON
cat > follow.json <<'JSON'
{"angles": [{"title": "Sulfide stability", "brief": "Why sulfides degrade.", "after": ["Electrolyte chemistry"]},
 {"title": "Factory costs", "brief": "What a gigafactory line costs.", "after": ["Manufacturing at scale", "Sulfide stability"]}]}
JSON
port=$("$py" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$py" -m fanout.devserver --port "$port" --latency 0.25 --token-interval 0.005 --tokens 20 \
    --plan plan.json --follow-up follow.json > devserver.log 2>&1 &
dev=$!
sleep 3
printf '%-11s %5s %5s %8s %6s %7s\n' strategy depth calls branches tokens wall
for s in sequential parallel hybrid; do
  for d in 1 2; do
    "$py" -m fanout run deep-research --base-url "http://127.0.0.1:$port/v1" --model m \
        --set topic="solid-state batteries" --cache off --strategy "$s" --depth "$d" --json 2>/dev/null > out.json
    "$py" -c "
import json; d = json.load(open('out.json')); m = d['metrics']
print('%-11s %5s %5d %8d %6d %6.2fs' % ('$s', '$d', m['calls'], len(d['branches']),
      m['input_tokens'] + m['output_tokens'], m['wall']))"
  done
done
