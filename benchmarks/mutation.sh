#!/usr/bin/env bash
# The mutation score of the modules where a wrong number is a wrong answer, and of the rules
# the front ends and the store rest on: mutmut changes one thing at a time in the code (a <
# for a <=, a 2 for a 3, a word dropped) and runs the module's fast tests; a change no test
# notices "survives". Prints killed/total per module and the survivors. See docs/testing.md.
#
#   benchmarks/mutation.sh                  every module, one after the other
#   benchmarks/mutation.sh decide extract   only these
#
# Modules: decide extract correction ratelimit fingerprint sentences addressing adding
# libraries sessions session files fetch.
# MUTATION_CHILDREN (default 2) is how many mutants are tested at once.
# MUTATION_SAMPLE, a class of last digits such as "[05]", tests only the mutants whose
# number ends in one of them (here 1 in 5, spread over every function): for a module whose
# full run takes too long. The score is then over that sample.
#
# mutmut derives a mutant's module name from its file's path, and bot/ is installed as
# quotebot.bot, so each module runs in a copy of the tree laid out as installed
# (build/mutation/MODULE/src/quotebot/bot/), with [tool.mutmut] from pyproject.toml and
# that module's files and tests. Needs `pip install -e '.[mutation]'`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CHILDREN=${MUTATION_CHILDREN:-2}
SAMPLE=${MUTATION_SAMPLE:-}
ALL=(decide extract correction ratelimit fingerprint sentences addressing adding libraries sessions
     session files fetch)

# MODULE -> the files mutated, the mutants counted (globs over mutant names, spaces between)
# and the tests.
settings() {
  case "$1" in
    decide)
      MUTATE=("src/quotebot/decide.py")
      NAMES="quotebot.decide.*"
      # Reranking by meaning loads the embedding model (seconds per mutant); decide.py's
      # thresholds on similarity are tested on evidence given by hand.
      TESTS=("tests/test_decide.py"
             "--deselect" "tests/test_decide.py::test_a_passage_about_something_else_is_declined_by_meaning"
             "--deselect" "tests/test_decide.py::test_negation_declines_with_and_without_vectors[True]")
      ;;
    extract)
      MUTATE=("src/quotebot/extract/*")
      NAMES="quotebot.extract.*"
      TESTS=("tests/test_extract.py" "tests/test_extract_rules.py")
      ;;
    correction)
      MUTATE=("src/quotebot/correction.py")
      NAMES="quotebot.correction.*"
      TESTS=("tests/test_correction.py")
      ;;
    ratelimit)
      MUTATE=("src/quotebot/bot/ratelimit.py")
      NAMES="quotebot.bot.ratelimit.*"
      # The HTTP test runs `quotebot serve` in a process of its own, on the code as installed.
      TESTS=("tests/test_ratelimit.py" "-k" "not http")
      ;;
    fingerprint)
      MUTATE=("src/quotebot/corpus.py")
      NAMES="quotebot.corpus.x_fingerprint__mutmut_*"
      TESTS=("tests/test_fingerprint.py")
      ;;
    sentences)
      MUTATE=("src/quotebot/sentences.py")
      NAMES="quotebot.sentences.*"
      TESTS=("tests/test_sentences.py")
      ;;
    addressing)
      MUTATE=("src/quotebot/bot/addressing.py")
      NAMES="quotebot.bot.addressing.*"
      TESTS=("tests/test_telegram_rules.py")
      ;;
    adding)
      MUTATE=("src/quotebot/bot/adding.py")
      NAMES="quotebot.bot.adding.*"
      TESTS=("tests/test_adding.py")
      ;;
    libraries)
      # Its rules: library names, keys, a turn asked of a library then the corpus, what
      # an extraction error tells the client, what dropping a library leaves. The Shelf,
      # the adding processes and the session sweep are tested through the servers.
      MUTATE=("src/quotebot/bot/libraries.py")
      NAMES="quotebot.bot.libraries.x_check_name__* quotebot.bot.libraries.x_chat_library__*
             quotebot.bot.libraries.x_session_library__* quotebot.bot.libraries.x_text_document__*
             quotebot.bot.libraries.x_extracted__* quotebot.bot.libraries.x_single__*
             quotebot.bot.libraries.x_library_key__* quotebot.bot.libraries.x_take_turn__*
             quotebot.bot.libraries.x_drop_library__*"
      TESTS=("tests/test_library_rules.py")
      ;;
    sessions)
      # The memory store, its locks and the update claims; the Redis store's rules are
      # tested against a real redis-server in tests/test_redis_sessions.py.
      MUTATE=("src/quotebot/bot/sessions.py")
      NAMES="quotebot.bot.sessions.*"
      # The flood tests (seconds each, and a server process running the installed code) are
      # left to the suite; the store's rules are tested on a clock moved by hand.
      TESTS=("tests/test_session_store.py" "-m" "not slow")
      ;;
    session)
      MUTATE=("src/quotebot/session.py")
      NAMES="quotebot.session.*"
      TESTS=("tests/test_session.py" "tests/test_session_rules.py" "tests/test_follow_ups.py")
      ;;
    files)
      MUTATE=("src/quotebot/store/files.py")
      NAMES="quotebot.store.files.*"
      TESTS=("tests/test_store.py" "tests/test_store_files.py" "tests/test_index_folder.py")
      ;;
    fetch)
      MUTATE=("src/quotebot/ingest/fetch.py")
      NAMES="quotebot.ingest.fetch.*"
      TESTS=("tests/test_fetch.py" "tests/test_fetch_rules.py")
      ;;
    *)
      echo "unknown module: $1 (modules: ${ALL[*]})" >&2
      exit 2
      ;;
  esac
}

stage() {
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir/src"
  # cp -p keeps modification times, which mutmut compares to tell mutated files apart.
  cp -rp src/quotebot "$dir/src/quotebot"
  cp -rp bot "$dir/src/quotebot/bot"
  mkdir -p "$dir/src/quotebot/index"
  cp -p index/__init__.py index/*.txt index/*.json "$dir/src/quotebot/index/"
  cp -rp tests "$dir/tests"
  # The example articles, which tests index (tests/conftest.py's ROOT is the copy's root).
  cp -rp examples "$dir/examples"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  # pyproject.toml with this module's files and tests in [tool.mutmut].
  python - "$dir/pyproject.toml" "${MUTATE[@]}" -- "${TESTS[@]}" <<'EOF'
import json, re, sys, tomllib
target, args = sys.argv[1], sys.argv[2:]
split = args.index("--")
mutate, tests = args[:split], args[split + 1:]
text = open("pyproject.toml", encoding="utf-8").read()
for key, value in (("only_mutate", mutate), ("pytest_add_cli_args_test_selection", tests)):
    text, n = re.subn(rf"^{key} = \[.*?^\]$", f"{key} = {json.dumps(value)}", text,
                      count=1, flags=re.M | re.S)
    assert n == 1, f"[tool.mutmut] {key} not found"
config = tomllib.loads(text)["tool"]["mutmut"]
assert config["only_mutate"] == mutate and config["pytest_add_cli_args_test_selection"] == tests
open(target, "w", encoding="utf-8").write(text)
EOF
}

# Prints "MODULE killed total score" and then each mutant that was not killed. A mutant whose
# tests ran out of time counts as killed (the tests never pass on it) and is listed too.
# (The script is an argument, not a here-document, which would take the place of the
# results on standard input.)
SCORE_PY='
import fnmatch, sys
module, names = sys.argv[1], sys.argv[2].split()
statuses = {}
for line in sys.stdin:
    name, sep, status = line.strip().rpartition(": ")
    if sep and any(fnmatch.fnmatch(name, pattern) for pattern in names):
        statuses[name] = status
killed = sum(s in ("killed", "timeout") for s in statuses.values())
total = len(statuses)
print(f"SCORE {module} {killed} {total} {100 * killed / max(total, 1):.1f}")
for name, status in sorted(statuses.items()):
    if status != "killed":
        print(f"  {status}: {name}")
'
score() {
  mutmut results --all true | python -c "$SCORE_PY" "$1" "${patterns[*]}"
}

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=("${ALL[@]}")
summary=()
for module in "${modules[@]}"; do
  settings "$module"
  # NAMES is one glob or several (spaces between): each gets the sample's digits.
  read -r -a patterns <<<"${NAMES//$'\n'/ }"
  patterns=("${patterns[@]/%/$SAMPLE}")
  dir="$ROOT/build/mutation/$module"
  stage "$dir"
  echo "== $module: mutating ${MUTATE[*]}; tests: ${TESTS[*]}"
  started=$(date +%s)
  (cd "$dir" && mutmut run --max-children "$CHILDREN" "${patterns[@]}" >"$dir/run.log" 2>&1) || {
    echo "mutmut failed for $module; the end of $dir/run.log:" >&2
    tail -20 "$dir/run.log" >&2
    exit 1
  }
  result=$(cd "$dir" && score "$module")
  echo "$result" | sed -n '2,$p'
  read -r _ _ killed total percent <<<"$(echo "$result" | head -1)"
  summary+=("$(printf '%-12s %5s / %-5s killed  %5s%%  (%ss)' "$module" "$killed" "$total" \
    "$percent" "$(($(date +%s) - started))")")
done
echo
echo "mutation score, $(date +%F), mutmut $(mutmut --version | awk '{print $NF}')${SAMPLE:+, mutants numbered *$SAMPLE only}"
printf '%s\n' "${summary[@]}"
