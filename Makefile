# ganomede-chat: a plain Makefile. `make` builds build/ganomede-chat;
# `make test` and `make run` first make sure the Debian packages are there.
#
#   make            build the server
#   make run        install deps (root), build, serve on :8000 (private PostgreSQL)
#   make test       install deps (root), build, unit + integration tests
#   make unit       unit tests only (no database)
#   make integration  integration tests only (throwaway PostgreSQL)
#   make schema     rewrite docs/schema.sql from the migrations (make test checks it)
#   make SANITIZE=1 ...  everything built with ASan + UBSan

CC       ?= cc
BUILD    ?= build
PKGS     := libmicrohttpd libpq json-c libcurl zlib libcrypto hiredis
# Recursively expanded on purpose: pkg-config may only exist once deps.sh ran.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef \
            -Wvla -Wnull-dereference -Wdouble-promotion
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP -I src -I $(BUILD)/gen
LDLIBS   += -lpthread

ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif

SRCS     := $(wildcard src/*.c)
OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
GEN_OBJS := $(BUILD)/obj/embedded_files.o $(BUILD)/obj/sql_statements.o
EMBEDDED := $(sort $(wildcard migrations/*.sql)) $(sort $(wildcard src/console/*))
SQL_FILES := $(sort $(wildcard sql/*.sql))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
ITEST_SRCS := $(wildcard tests/integration/*.c)

.PHONY: all run test test-infra unit integration contract deps clean fuzz bench valgrind schema schema-check check-systemd tutorial test-console

all: $(BUILD)/ganomede-chat

$(BUILD)/ganomede-chat: $(OBJS) $(GEN_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/gen/embedded_files.c $(BUILD)/gen/sql_statements.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# SQL is compiled into the binary: the migrations as files, the named
# queries of sql/ as statement ids with their parameter counts.
$(BUILD)/gen/embedded_files.c: $(EMBEDDED) scripts/embed.sh
	@mkdir -p $(@D)
	sh scripts/embed.sh $@ $(EMBEDDED)

$(BUILD)/gen/sql_statements.h: $(SQL_FILES) scripts/gen-sql.sh
	@mkdir -p $(@D)
	sh scripts/gen-sql.sh $@ $(BUILD)/gen/sql_statements.c $(SQL_FILES)

$(BUILD)/gen/sql_statements.c: $(BUILD)/gen/sql_statements.h

$(BUILD)/obj/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Each unit test links the module it is named after and what that module
# needs, nothing else (as pgbouncer's *_SOURCES): a test that compiles
# proves its module's edges. A new test adds one line here.
test_auth_SRCS        := auth text
test_config_SRCS      := config
test_digest_SRCS      := digest
test_framing_SRCS     := framing
test_gzip_SRCS        := gzip
test_router_SRCS      := router text
test_text_SRCS        := text
test_token_cache_SRCS := token_cache
test_recent_writers_SRCS := recent_writers clock
test_rate_limit_SRCS  := rate_limit clock
test_live_pos_SRCS    := live_pos
test_room_cache_SRCS  := room_cache gzip
test_validation_SRCS  := body message room text
unit_objs = $(patsubst %,$(BUILD)/obj/%.o,$($(1)_SRCS))

.SECONDEXPANSION:
$(BUILD)/unit/%: tests/unit/%.c $$(call unit_objs,$$*)
	@mkdir -p $(@D)
	@test -n "$($*_SRCS)" || { echo "Makefile: $*_SRCS is not set: name the modules $* links" >&2; exit 1; }
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(CMOCKA_LIBS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/test_integration: $(ITEST_SRCS) $(wildcard tests/integration/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CMOCKA_CFLAGS) $(shell pkg-config --cflags libcurl libpq json-c hiredis) $(LDFLAGS) \
	  -o $@ $(ITEST_SRCS) $(CMOCKA_LIBS) $(shell pkg-config --libs libcurl libpq json-c hiredis) $(LDLIBS)

unit: $(UNIT_BINS)
	@rm -rf $(SAN_DIR) && mkdir -p $(SAN_DIR)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
	@if [ -n "$$(ls -A $(SAN_DIR))" ]; then echo "sanitizer reports:"; cat $(SAN_DIR)/*; exit 1; fi

# The suite drives the binary of this BUILD (so SANITIZE=1 tests the
# sanitized server).
# With SANITIZE=1 every report of every process (servers the suite starts
# included) goes to $(BUILD)/sanitizer/, and any report fails the run.
SAN_DIR := $(abspath $(BUILD))/sanitizer
ifeq ($(SANITIZE),1)
export ASAN_OPTIONS  := log_path=$(SAN_DIR)/asan:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS := log_path=$(SAN_DIR)/ubsan:print_stacktrace=1:halt_on_error=1
endif

integration: all $(BUILD)/test_integration
	@rm -rf $(SAN_DIR) && mkdir -p $(SAN_DIR)
	CHAT_BIN=$(abspath $(BUILD))/ganomede-chat scripts/test-integration.sh $(BUILD)/test_integration
	@if [ -n "$$(ls -A $(SAN_DIR))" ]; then echo "sanitizer reports:"; cat $(SAN_DIR)/*; exit 1; fi

deps:
	scripts/deps.sh

# libFuzzer targets for everything that reads untrusted bytes; each runs
# FUZZ_SECONDS from its seed corpus in tests/fuzz/corpus/<name>/.
FUZZ_TARGETS := router body config query
FUZZ_SECONDS ?= 60
FUZZ_SRCS    := src/text.c src/router.c src/body.c src/room.c src/message.c src/config.c \
                src/live_pos.c
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS)
	@mkdir -p $(@D)
	clang -g -O1 -std=c11 -D_GNU_SOURCE -I src -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $(shell pkg-config --cflags json-c) -o $@ $^ \
	  $(shell pkg-config --libs json-c) -lm

fuzz:
	scripts/deps.sh build check
	$(MAKE) $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The integration suite with every server it starts under valgrind
# (CHAT_WRAPPER); any error or definite leak in any server fails the run.
# VALGRIND_ARGS picks groups, e.g. VALGRIND_ARGS="-g routes,messages".
VG_DIR := $(abspath $(BUILD))/valgrind
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
            --error-exitcode=99 --log-file=$(VG_DIR)/server.%p.log
valgrind:
	scripts/deps.sh build db test check
	$(MAKE) all $(BUILD)/test_integration
	@rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)
	CHAT_WRAPPER="$(VALGRIND)" CHAT_BIN=$(abspath $(BUILD))/ganomede-chat \
	  scripts/test-integration.sh $(BUILD)/test_integration $(VALGRIND_ARGS)
	@if grep -l . $(VG_DIR)/*.log >/dev/null 2>&1; then \
	  echo "valgrind reports:"; grep -H . $(VG_DIR)/*.log | head -100; exit 1; fi
	@echo "valgrind: no error in $$(ls $(VG_DIR) | wc -l) server runs"

# docs/schema.sql: the schema the migrations build, dumped (make schema), and
# checked against a freshly migrated throwaway database in make test.
schema: all
	CHAT_BIN=$(abspath $(BUILD))/ganomede-chat scripts/schema.sh write

schema-check: all
	CHAT_BIN=$(abspath $(BUILD))/ganomede-chat scripts/test-integration.sh scripts/schema.sh check

# The moderation console in Debian's headless Chromium (screenshots in
# build/console/).
test-console: all
	scripts/deps.sh build db console
	scripts/console-test.sh

# docs/tutorial.md, every command run as written against a fresh server.
tutorial: all
	scripts/deps.sh build db tutorial
	scripts/tutorial.sh

# The systemd unit of scripts/systemd/, verified by systemd-analyze (CI).
check-systemd: all
	scripts/check-systemd.sh $(BUILD)/ganomede-chat

# Contract tests: docs/openapi.yaml linted by Redocly and real answers
# validated against it (npm packages from tests/contract/package-lock.json).
contract: all
	CHAT_BIN=$(abspath $(BUILD))/ganomede-chat scripts/contract-test.sh

test:
	scripts/deps.sh build db test
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) schema-check
	$(MAKE) integration
	$(MAKE) contract

# The infrastructure groups, kept out of `make test` for their minutes and
# their extra clusters (CI runs them too): pg_cron (preloaded here), read
# replicas and failover on streaming standbys made by scripts/pg.sh.
test-infra:
	scripts/deps.sh build db test infra
	$(MAKE) all $(BUILD)/test_integration
	PG_PRELOAD=pgaudit,pg_cron CHAT_BIN=$(abspath $(BUILD))/ganomede-chat \
	  scripts/test-integration.sh $(BUILD)/test_integration -g cron,replicas,failover

# Load test with its ceilings: SCALE=full adds 1k/10k/100k rooms and the
# expiry job under load; DURATION sets the seconds per measurement.
bench:
	scripts/deps.sh build db bench
	$(MAKE) all
	SCALE=$(SCALE) DURATION=$(DURATION) scripts/bench.sh

run:
	scripts/deps.sh
	$(MAKE) all
	scripts/run.sh

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
