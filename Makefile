# ngx_http_llm_router_module: the front door.
#
#   make                 build the module against the installed Debian NGINX
#   make NGINX_SRC=DIR   build against another NGINX source tree
#   make run             run the gateway with mock providers on 127.0.0.1:8080
#   make test            unit tests, fuzzers (20 s each), integration tests,
#                        OpenAI SDK tests, the status page in Chromium and
#                        a real Prometheus (installs what it needs)
#   make integration     the t/ tests only (T=t/009-translate.t: one file)
#   make test-reload     nginx -s reload / nginx -t with env: keys; limits'
#                        counts across a reload
#   make test-cache      the response cache across workers, restarts,
#                        damaged files, expiry and max_size
#   make test-limits-redis  llm_limit_zone in Redis: two instances share a
#                        budget; Redis stopped, frozen and started again
#   make test-asan       unit and t/ tests, module built with ASan + UBSan
#   make test-valgrind   the integration tests with NGINX under valgrind
#   make bench           throughput, latency, streaming, memory and CPU cost
#                        against proxy_pass and Portkey (build/bench/report.md)
#   make bench-workers   the throughput part alone with two gateway workers
#                        (WORKERS=2 CONNECTIONS=64 TUNED=0 PARTS=throughput)
#   make bench-cache     response cache hits against proxy_cache hits
#   make bench-embeddings  embeddings (~1 MB answers) against proxy_pass
#   make bench-failover  kill and restart a provider under load: no errors
#   make bench-stats     instructions per request, llm_stats on and off
#   make bench-limits    instructions per request, no limit, one and three
#                        llm_limit checks in shared memory, one in Redis;
#                        their latency under wrk
#   make bench-reload    nginx -s reload every second under load, against
#                        proxy_pass: requests lost, streams cut, counters
#   make bench-tls       new TLS connections to a provider, session reuse
#                        on and off, against proxy_pass
#   make clean

SHELL      := /bin/bash
TOP        := $(CURDIR)
BUILD      := $(TOP)/build
MODULE     := ngx_http_llm_router_module.so

NGINX_SRC  ?=
NGINX_BIN  ?= /usr/sbin/nginx

# NGX_CFLAGS: extra compiler flags for the module's own files.
WARN       := -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer

ifeq ($(NGINX_SRC),)
  DEBIAN_SRC := /usr/share/nginx/src
  CONFIGURE  := . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}"
else
  DEBIAN_SRC :=
  CONFIGURE  := ./configure --with-compat --with-http_ssl_module --with-threads
endif

SOURCES    := config $(wildcard $(TOP)/src/*.c $(TOP)/src/*.h \
                                $(TOP)/src/core/*.c $(TOP)/src/core/*.h)

DEPS_STAMP := $(BUILD)/.deps

.PHONY: all deps module run test unit integration sdk test-reload test-cache \
        test-limits-redis test-asan \
        test-valgrind certs bench bench-workers bench-failover bench-stats \
        bench-limits bench-reload bench-tls bench-cache bench-embeddings \
        fuzz clean

all: module

deps: $(DEPS_STAMP)

$(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh build test
	@mkdir -p $(BUILD) && touch $@

module: $(BUILD)/$(MODULE)

# $(call nginx_build,DIR,EXTRA_CC_OPT,EXTRA_LD_OPT)
define nginx_build
	@if [ ! -f $(1)/configure ]; then \
	    rm -rf $(1) && mkdir -p $(1) && \
	    cp -a $(if $(NGINX_SRC),$(NGINX_SRC),$(DEBIAN_SRC))/. $(1)/; \
	fi
	@if [ ! -f $(1)/objs/Makefile ] || [ config -nt $(1)/objs/Makefile ] \
	    || [ $(BUILD)/core.list -nt $(1)/objs/Makefile ]; then \
	    cd $(1) && $(CONFIGURE) \
	        --with-cc-opt="$(WARN) $(2)" --with-ld-opt="$(3)" \
	        --add-dynamic-module=$(TOP) > configure.log 2>&1 \
	    || { cat $(1)/configure.log; exit 1; }; \
	fi
	$(MAKE) -s -C $(1) -f objs/Makefile modules
endef

# configure again when a source file of the core comes or goes
CORE_FILES := $(sort $(notdir $(wildcard $(TOP)/src/core/*.c)))

$(BUILD)/core.list: FORCE
	@mkdir -p $(BUILD)
	@echo "$(CORE_FILES)" | cmp -s - $@ || echo "$(CORE_FILES)" > $@

FORCE:

$(BUILD)/$(MODULE): $(DEPS_STAMP) $(SOURCES) $(BUILD)/core.list
	$(call nginx_build,$(BUILD)/nginx,,)
	cp $(BUILD)/nginx/objs/$(MODULE) $@.tmp && mv $@.tmp $@

$(BUILD)/asan/$(MODULE): $(DEPS_STAMP) $(SOURCES) $(BUILD)/core.list
	$(call nginx_build,$(BUILD)/nginx-asan,-g -O1 $(SAN),$(SAN))
	mkdir -p $(BUILD)/asan
	cp $(BUILD)/nginx-asan/objs/$(MODULE) $@.tmp && mv $@.tmp $@

# ---- the runnable gateway -------------------------------------------------

RUN_DIR := $(BUILD)/run

EXAMPLE ?= gateway

run: module
	@mkdir -p $(RUN_DIR)/logs
	@echo "llm gateway on http://127.0.0.1:8080 (mock providers on" \
	      "127.0.0.1:9101-9105); Ctrl-C stops it"
	@exec $(NGINX_BIN) -p $(RUN_DIR)/ -c $(TOP)/examples/$(EXAMPLE).conf \
	    -g "load_module $(ECHO_MODULE); load_module $(BUILD)/$(MODULE); daemon off; pid $(RUN_DIR)/nginx.pid;"

# ---- tests ----------------------------------------------------------------

CERTS := $(BUILD)/certs

certs: $(CERTS)/.done

$(CERTS)/.done: t/gen-certs.sh
	@t/gen-certs.sh $(CERTS)
	@touch $@

# Test::Nginx: openresty's beside the repository (../shared/test-nginx/lib),
# else an installed one, else the bundled subset in t/lib
TESTNGINX_DIR ?= $(abspath $(TOP)/../shared/test-nginx/lib)
ifneq ($(wildcard $(TESTNGINX_DIR)/Test/Nginx/Socket.pm),)
  PROVE_INC := -I $(TESTNGINX_DIR)
else
  PROVE_INC := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       || echo -I t/lib)
endif
# each test process is made the subreaper of the nginx it starts (a daemon),
# so that a stopped nginx is reaped at once instead of when PID 1 gets to it
# (openresty's runner waits for that between blocks; t/lib/subreaper)
# T: the .t files to run (make integration T=t/009-translate.t)
T         ?= t/
PROVE      = PERL5OPT="-I$(TOP)/t/lib/subreaper -MChildSubreaper" \
             prove $(PROVE_INC) -r $(T)

TEST_ENV   = TEST_NGINX_BINARY=$(NGINX_BIN) \
             TEST_NGINX_LOAD_MODULES="$(1)" \
             TEST_NGINX_ECHO_MODULE=$(ECHO_MODULE) \
             TEST_NGINX_CERT_DIR=$(CERTS) \
             TEST_NGINX_SERVROOT=$(BUILD)/servroot

ECHO_MODULE := /usr/lib/nginx/modules/ngx_http_echo_module.so

FUZZ_SECONDS ?= 10

test: deps module certs
	$(MAKE) -s -C tests/unit
	$(MAKE) -s -C tests/unit PORTABLE=1
	$(MAKE) -s -C fuzz smoke SECONDS=$(FUZZ_SECONDS)
	$(call TEST_ENV,$(BUILD)/$(MODULE)) $(PROVE)
	tests/reload/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)
	tests/cache/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)
	tests/limits-redis/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)
	tests/sdk/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)
	scripts/html2c.sh --check
	tests/dashboard/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)
	tests/prometheus/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)

fuzz: deps
	$(MAKE) -s -C fuzz smoke SECONDS=$(FUZZ_SECONDS)

sdk: deps module
	tests/sdk/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)

test-reload: deps module
	tests/reload/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)

test-cache: deps module
	tests/cache/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)

test-limits-redis: deps module certs
	tests/limits-redis/run.sh $(BUILD)/$(MODULE) $(NGINX_BIN)

unit: deps
	$(MAKE) -s -C tests/unit
	$(MAKE) -s -C tests/unit PORTABLE=1

integration: deps module certs
	$(call TEST_ENV,$(BUILD)/$(MODULE)) $(PROVE)

# NGINX from Debian is not instrumented: a wrapper preloads the sanitizer
# runtimes so that the instrumented module can be loaded into it.
ASAN_NGINX := $(BUILD)/asan/nginx

$(ASAN_NGINX): Makefile
	@mkdir -p $(BUILD)/asan
	@printf '#!/bin/sh\nLD_PRELOAD="%s %s" exec %s "$$@"\n' \
	    "$$(gcc -print-file-name=libasan.so)" \
	    "$$(gcc -print-file-name=libubsan.so)" $(NGINX_BIN) > $@
	@chmod +x $@

ASAN_OPTS := ASAN_OPTIONS=detect_leaks=1:log_path=$(BUILD)/asan/report \
             LSAN_OPTIONS=suppressions=$(TOP)/t/lsan.supp:print_suppressions=0 \
             UBSAN_OPTIONS=print_stacktrace=1:log_path=$(BUILD)/asan/report

test-asan: deps certs $(BUILD)/asan/$(MODULE) $(ASAN_NGINX)
	$(MAKE) -s -C tests/unit SANITIZE=1
	rm -f $(BUILD)/asan/report.*
	$(ASAN_OPTS) $(call TEST_ENV,$(BUILD)/asan/$(MODULE)) \
	    TEST_NGINX_BINARY=$(ASAN_NGINX) $(PROVE)
	@if ls $(BUILD)/asan/report.* >/dev/null 2>&1; then \
	    cat $(BUILD)/asan/report.*; echo "sanitizer reports found"; exit 1; \
	fi

# openresty's runner reads ./valgrind.suppress and prints what valgrind
# reports without failing: the suppressions are put there for the run, and
# any report left fails the target
test-valgrind: deps module certs
	$(MAKE) -s -C tests/unit valgrind
	cat t/lib/Test/Nginx/valgrind.suppress t/valgrind.suppress \
	    > valgrind.suppress
	set -o pipefail; \
	TEST_NGINX_USE_VALGRIND=1 $(call TEST_ENV,$(BUILD)/$(MODULE)) $(PROVE) \
	    2>&1 | tee $(BUILD)/valgrind.log; status=$$?; \
	rm -f valgrind.suppress; \
	if grep -q '^==[0-9]*==' $(BUILD)/valgrind.log; then \
	    echo "valgrind reports found: $(BUILD)/valgrind.log"; exit 1; \
	fi; \
	exit $$status

# ---- measurements --------------------------------------------------------

bench-failover: deps module
	@cd tests/sdk && [ -d node_modules/openai ] || npm ci --no-audit --no-fund --loglevel=error
	bench/failover.sh

bench-reload: deps module
	bench/reload.sh

bench-tls: deps module certs
	@scripts/deps.sh bench
	bench/tls-session.sh

bench-stats: deps module
	bench/stats-cost.sh

bench-limits: deps module
	@scripts/deps.sh bench
	bench/limits-cost.sh

bench: deps module
	@scripts/deps.sh bench
	@cd bench/portkey && [ -d node_modules/@portkey-ai/gateway ] \
	    || npm ci --no-audit --no-fund --loglevel=error
	bench/bench.sh

bench-workers: deps module
	@scripts/deps.sh bench
	WORKERS=2 CONNECTIONS=64 TUNED=0 PARTS=throughput bench/bench.sh

bench-cache: deps module
	@scripts/deps.sh bench
	TUNED=0 PARTS=cache bench/bench.sh

bench-embeddings: deps module
	@scripts/deps.sh bench
	TUNED=0 PARTS=embeddings bench/bench.sh

clean:
	rm -rf $(BUILD) t/servroot
	$(MAKE) -s -C tests/unit clean
	$(MAKE) -s -C fuzz clean
