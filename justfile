# Tidewater's tasks. Run them through ./dev (it makes .venv first): ./dev up, ./dev test, ./dev lint.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

# The venv's tools first, so `just` works without ./dev too once .venv exists.
export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

# List the recipes
default:
    @just --list

# Start the exchange: embedded Redis + PostgreSQL in .tidewater/ (unless REDIS_URL/DATABASE_URL are set); Ctrl-C stops
up *args:
    @tidewater up "$@"

# Say whether `tidewater up` is running, and its URLs
status *args:
    @tidewater status "$@"

# Run the whole test suite; extra arguments go to pytest (./dev test -k embedded). With none, the engine's tests run again on the interpreted build
test *args:
    python -m pytest "$@"
    if [[ $# -eq 0 ]]; then TIDEWATER_ENGINE_BUILD=interpreted python -m pytest tests/unit/matcher; fi

# Long seeded replays and the long fault scenarios (marks `slow` and `soak`)
soak *args:
    TIDEWATER_SOAK=1 python -m pytest -m "slow or soak" "$@" || { code=$?; [[ $code == 5 ]] && echo "soak: no slow tests selected"; [[ $code == 5 ]] || exit $code; }

# Lint, format check and type check
lint:
    ruff check .
    ruff format --check .
    mypy

# Format the code and apply safe lint fixes
fmt:
    ruff format .
    ruff check --fix .

# Run every benchmark in bench/ and write docs/benchmarks.md, each figure beside its target (--quick: smoke run; --only matcher,peer)
bench *args:
    PYTHONPATH=. python bench/report.py "$@"
