# Shortcuts; the scripts are the source of truth (README quick start uses them directly).
.PHONY: demo test build bench-discovery install

demo:
	bash scripts/demo

test:
	bash scripts/test

build:
	swift build -c release --product mailport

bench-discovery:
	python3 Benchmarks/discovery.py
