# Shortcuts; the scripts are the source of truth (README quick start uses them directly).
.PHONY: demo test build bench-discovery install rules

demo:
	bash scripts/demo

test:
	bash scripts/test

build:
	swift build -c release --product mailport

bench-discovery:
	python3 Benchmarks/discovery.py

# After editing Rules/: copy the built-in rule set into the binary's sources (a test fails while they differ).
rules:
	python3 scripts/embed-rules.py
