# Shortcuts; the scripts are the source of truth (README quick start uses them directly).
.PHONY: demo test build bench-discovery install rules static man completions

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

# Installing on the machines that run audits: a release build with the Swift runtime linked in
# (--static-swift-stdlib), so the target needs only libssl3 and libpcap0.8; the rule set and examples for
# reference (the rules are compiled in); man pages and shell completions generated from the same option
# definitions. `make install DESTDIR=/tmp/stage` stages it; scripts/check-install proves it runs without Swift.
PREFIX ?= /usr/local
DESTDIR ?=
STATIC_BUILD = .build-static
BIN = $(STATIC_BUILD)/release/mailport

static:
	swift build -c release --static-swift-stdlib --scratch-path $(STATIC_BUILD) --product mailport

# swift-argument-parser's generate-manual plugin reads the same command definitions as --help. It runs the tool
# from a build of its own; the debug build (which the tests made already) is enough to read the definitions.
MAN_OUTPUT = .build/plugins/GenerateManual/outputs/mailport
man:
	swift package --allow-writing-to-package-directory generate-manual --multi-page --configuration debug

completions: static
	mkdir -p $(STATIC_BUILD)/completions
	$(BIN) --generate-completion-script bash > $(STATIC_BUILD)/completions/mailport.bash
	$(BIN) --generate-completion-script zsh > $(STATIC_BUILD)/completions/_mailport
	$(BIN) --generate-completion-script fish > $(STATIC_BUILD)/completions/mailport.fish

install: static man completions
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mailport $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mailport
	cp -R Rules Examples $(DESTDIR)$(PREFIX)/share/mailport/
	install -m 644 $(MAN_OUTPUT)/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(STATIC_BUILD)/completions/mailport.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mailport
	install -m 644 $(STATIC_BUILD)/completions/_mailport $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_mailport
	install -m 644 $(STATIC_BUILD)/completions/mailport.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/mailport.fish
