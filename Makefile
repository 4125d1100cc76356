# mailnook -- see README.md.  `make`, `make run`, `make test`.
#
# The build reads .config (from configs/defconfig when missing) and turns it
# into config.h with scripts/genconfig.sh: no Kconfig tool is needed.  Objects
# go to build/<target triplet>/ so native, cross and sanitizer builds never
# mix; the binary is ./mailnook unless BIN= says otherwise.

CROSS_COMPILE ?=
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
STRIP ?= $(CROSS_COMPILE)strip
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wwrite-strings
ifneq ($(SANITIZE),)
CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
          -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

TRIPLET := $(shell $(CC) -dumpmachine 2>/dev/null || echo unknown)
BUILD ?= build/$(TRIPLET)$(if $(SANITIZE),-san)
BIN ?= mailnook

# KCONFIG_CONFIG names another configuration, as in Linux:
# `make KCONFIG_CONFIG=configs/tiny_defconfig BUILD=build/tiny`.
KCONFIG_CONFIG ?= .config
-include $(KCONFIG_CONFIG)

# BEARSSL_DIR: a BearSSL source tree built for the target (headers in inc/,
# libbearssl.a in build/), for toolchains without a packaged BearSSL; its
# headers are system headers, as a packaged BearSSL's are (-Wundef).
# The project's own flags are kept apart so that CPPFLAGS, CFLAGS and
# LDFLAGS given on the command line add to them instead of replacing them.
BEARSSL_DIR ?=
MN_CPPFLAGS = -I$(BUILD) -Icore -Istore -Iplatform -D_GNU_SOURCE \
              -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
              $(if $(BEARSSL_DIR),-isystem $(BEARSSL_DIR)/inc)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(MN_CPPFLAGS) $(CPPFLAGS)

CORE_SRCS := $(sort $(wildcard core/*.c))
# CONFIG_QUOTA: quota, rotation and expiry (maildirsize, the walk over a
# Maildir, the deleting), compiled only when it is on.
QUOTA_SRCS := store/maildirsize.c store/maildir_walk.c store/quota.c store/rotate.c
STORE_SRCS-y := $(filter-out $(QUOTA_SRCS),$(sort $(wildcard store/*.c)))
STORE_SRCS-$(CONFIG_QUOTA) += $(QUOTA_SRCS)
STORE_SRCS := $(STORE_SRCS-y)
PLATFORM_SRCS-y := $(filter-out platform/tls%.c,$(sort $(wildcard platform/*.c)))
PLATFORM_SRCS-$(CONFIG_TLS) += $(sort $(wildcard platform/tls*.c))
LIBS-$(CONFIG_TLS) += $(if $(BEARSSL_DIR),-L$(BEARSSL_DIR)/build) -lbearssl
# AUTH checks auth-users passwords with crypt(3): glibc's is in libcrypt;
# CRYPT_LIB= for a C library without one (scripts/static.sh, musl)
CRYPT_LIB ?= -lcrypt
LIBS-$(CONFIG_AUTH) += $(CRYPT_LIB)

LIB_SRCS := $(CORE_SRCS) $(STORE_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
PLATFORM_OBJS := $(PLATFORM_SRCS-y:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/t_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%.t)

.PHONY: all run test unit test-cross install clean distclean defconfig \
        menuconfig deps check-layering
.DEFAULT_GOAL := all

all: $(BIN)

.config:
	cp configs/defconfig .config

$(BUILD)/config.h: $(KCONFIG_CONFIG) Kconfig scripts/genconfig.sh
	@mkdir -p $(@D)
	sh scripts/genconfig.sh Kconfig $(KCONFIG_CONFIG) > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(BUILD)/%.o: %.c $(BUILD)/config.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BIN): $(PLATFORM_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS-y) $(LDLIBS)

$(BUILD)/tests/%.t: tests/unit/%.c $(LIB_OBJS) tests/tap.h tests/scratch_dir.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# t_account reads passwd and group files through platform/account.c.
$(BUILD)/tests/t_account.t: tests/unit/t_account.c $(BUILD)/platform/account.o tests/tap.h tests/scratch_dir.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/platform/account.o $(LDLIBS)

# t_errtext: platform/errtext.c's table (and core/fmt.c, for "error N").
$(BUILD)/tests/t_errtext.t: tests/unit/t_errtext.c $(BUILD)/platform/errtext.o $(LIB_OBJS) tests/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/platform/errtext.o $(LIB_OBJS) $(LDLIBS)

# t_hook runs real processes through platform/hook.c and hook_queue.c alone
# (and core/fmt.c).
$(BUILD)/tests/t_hook.t: tests/unit/t_hook.c $(BUILD)/platform/hook.o $(BUILD)/platform/hook_queue.o $(LIB_OBJS) tests/tap.h tests/scratch_dir.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/platform/hook.o $(BUILD)/platform/hook_queue.o $(LIB_OBJS) $(LDLIBS)

# t_tls drives platform/'s TLS layer: with CONFIG_TLS=y it links those
# objects and BearSSL; without, it builds alone and reports a skip.
# (tls_conn.c counts handshakes in stats.c, which logs through log.c, which
# stamps lines with clock.c; the hook and quota figures come through
# sources main sets, so neither is linked here)
TLS_OBJS-$(CONFIG_TLS) := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard platform/tls*.c)) \
                          platform/stats.c platform/log.c platform/clock.c)
$(BUILD)/tests/t_tls.t: tests/unit/t_tls.c $(LIB_OBJS) $(TLS_OBJS-y) tests/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(TLS_OBJS-y) \
	  $(LIBS-y) $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

defconfig:
	cp configs/defconfig .config

menuconfig:
	@command -v kconfig-mconf >/dev/null || { \
	  echo "make menuconfig needs kconfig-mconf: apt-get install kconfig-frontends-nox"; exit 1; }
	kconfig-mconf Kconfig

deps:
	@sh scripts/deps.sh build

run: deps $(BIN)
	mkdir -p run
	./$(BIN) -f -c examples/mailnook.conf

unit: $(UNIT_BINS)

# `make test`: unit tests and the integration suite against the normal
# build, then both again against an ASan+UBSan build, then the layering
# check and the cross test; prove prints the summary.
test:
	@sh scripts/deps.sh test
	$(MAKE) all unit
	$(MAKE) SANITIZE=1 BIN=$(BUILD)-san/mailnook $(BUILD)-san/mailnook unit
	$(MAKE) check-layering
	MAILNOOK_BIN=$(CURDIR)/$(BIN) MAILNOOK_SAN_BIN=$(CURDIR)/$(BUILD)-san/mailnook \
	MAILNOOK_UNIT_DIRS="$(BUILD)/tests $(BUILD)-san/tests" \
	  prove -j2 $(BUILD)/tests/*.t $(BUILD)-san/tests/*.t tests/integration/*.t \
	    tests/fuzz/t_fuzz.t

# core/ is sans-I/O: its objects may only use string and memory functions.
check-layering: $(CORE_SRCS:%.c=$(BUILD)/%.o)
	@sh scripts/check-layering.sh $^

# libFuzzer targets (tests/fuzz/fuzz_*.c) over core/, and with CONFIG_TLS=y
# over platform/'s TLS glue (fuzz_tls), built with clang into build/fuzz/
# apart from the gcc builds.  `make fuzz` runs each for FUZZ_SECONDS; new
# inputs go to build/fuzz/corpus/<target>, crashes to
# build/fuzz/crash-<target>-*.  `make test` runs each briefly (tests/fuzz/t_fuzz.t).
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS-y := engine addr conf
FUZZ_TARGETS-$(CONFIG_TLS) += tls
FUZZ_TARGETS := $(FUZZ_TARGETS-y)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 $(filter-out -Werror,$(WARN)) -g -O1 -fno-omit-frame-pointer \
               $(FUZZ_SAN) -I$(FUZZ_BUILD) -Icore -D_GNU_SOURCE
FUZZ_OBJS := $(CORE_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/config.h: .config Kconfig scripts/genconfig.sh
	@mkdir -p $(@D)
	sh scripts/genconfig.sh Kconfig .config > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(FUZZ_BUILD)/core/%.o: core/%.c $(FUZZ_BUILD)/config.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS)

# fuzz_tls: platform/'s TLS glue and what it links (as t_tls), not core/
# (but for core/fmt.c, which formats its messages, and core/outcome.c, which
# names how a connection ended): the target fakes the
# SMTP engine's calls to check every byte they pass.
FUZZ_TLS_CFLAGS := -Iplatform -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
                   $(if $(BEARSSL_DIR),-isystem $(BEARSSL_DIR)/inc)
FUZZ_TLS_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(sort $(wildcard platform/tls*.c)) \
                 platform/stats.c platform/log.c platform/clock.c core/fmt.c \
                 core/outcome.c core/text.c)

$(FUZZ_BUILD)/platform/%.o: platform/%.c $(FUZZ_BUILD)/config.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_TLS_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_tls: tests/fuzz/fuzz_tls.c $(FUZZ_TLS_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_TLS_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(FUZZ_TLS_OBJS) $(LIBS-y)

-include $(wildcard $(FUZZ_BUILD)/core/*.d $(FUZZ_BUILD)/platform/*.d)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t || exit 1; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- -dict=tests/fuzz/$$t.dict \
	    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# `make bench` (never part of `make test`): bench/run.py, against two builds
# of their own in build/bench/LIBC/ -- store/: configs/defconfig with 64
# session slots; discard/: the same with BENCH_DISCARD=y, the protocol-only
# baseline -- and the tools bench/loadgen.c and bench/fsync_limit.c.
# BENCH_LIBC=musl (default): the servers are the firmware build, static
# musl (scripts/static.sh) at -O2; BENCH_LIBC=glibc: the host's dynamic
# build.  BENCH_SECONDS per run (default 10); the table goes to
# bench/RESULTS.md.
BENCH_BUILD := build/bench
BENCH_SECONDS ?= 10
BENCH_LIBC ?= musl
BENCH_SERVERS := $(BENCH_BUILD)/$(BENCH_LIBC)
.PHONY: bench bench-build

$(BENCH_BUILD)/store.config: configs/defconfig
	@mkdir -p $(@D)
	sed '/^CONFIG_MAX_SESSIONS=/d' configs/defconfig > $@.tmp
	echo CONFIG_MAX_SESSIONS=64 >> $@.tmp && mv $@.tmp $@

$(BENCH_BUILD)/discard.config: $(BENCH_BUILD)/store.config
	cp $(BENCH_BUILD)/store.config $@.tmp
	echo CONFIG_BENCH_DISCARD=y >> $@.tmp && mv $@.tmp $@

$(BENCH_BUILD)/loadgen: bench/loadgen.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -D_GNU_SOURCE $(LDFLAGS) -o $@ $<

$(BENCH_BUILD)/fsync_limit: bench/fsync_limit.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -D_GNU_SOURCE $(LDFLAGS) -o $@ $<

# `make bench-quota`: bench/quota_scan.c times the quota recalculation
# and a rotation pass on generated 10,000- and 100,000-message Maildirs in
# /tmp (removed afterwards), against this build's store/ objects.
.PHONY: bench-quota
$(BENCH_BUILD)/quota_scan: bench/quota_scan.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

bench-quota: $(BENCH_BUILD)/quota_scan
	$(BENCH_BUILD)/quota_scan

# bench/hook_run.c: the cost of one on-delivery run through platform/hook.c
# (`build/bench/hook_run [N [MAX [PROGRAM]]]`), with this build's flags.
$(BENCH_BUILD)/hook_run: bench/hook_run.c $(BUILD)/platform/hook.o $(BUILD)/platform/hook_queue.o $(BUILD)/core/fmt.o
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/platform/hook.o $(BUILD)/platform/hook_queue.o $(BUILD)/core/fmt.o $(LDLIBS)

bench-build: $(BENCH_BUILD)/loadgen $(BENCH_BUILD)/fsync_limit \
             $(BENCH_BUILD)/store.config $(BENCH_BUILD)/discard.config
	@sh scripts/deps.sh build
ifeq ($(BENCH_LIBC),musl)
	@for v in store discard; do \
	  STATIC_BUILD=$(BENCH_SERVERS)/$$v KCONFIG_CONFIG=$(BENCH_BUILD)/$$v.config \
	    STATIC_CFLAGS=-O2 sh scripts/static.sh || exit 1; \
	done
else
	@for v in store discard; do \
	  $(MAKE) BUILD=$(BENCH_SERVERS)/$$v KCONFIG_CONFIG=$(BENCH_BUILD)/$$v.config \
	    BIN=$(BENCH_SERVERS)/$$v/mailnook $(BENCH_SERVERS)/$$v/mailnook || exit 1; \
	done
endif

bench: bench-build
	BENCH_SECONDS=$(BENCH_SECONDS) python3 bench/run.py --build $(BENCH_BUILD) \
	  --servers $(BENCH_SERVERS) --servers-name "$(if $(filter musl,$(BENCH_LIBC)),static musl (make static) at -O2,dynamic glibc)"

# Firmware (README "In firmware").  `make static`: a fully static musl
# binary, STATIC_BUILD/mailnook (BearSSL built with musl-gcc and cached
# outside the tree when TLS is on).  `make size`: footprint and memory
# against the budgets (scripts/size.sh).  `make test-cross`: the unit tests
# and a delivery under qemu-user for every CROSS_ARCHS toolchain.
STATIC_BUILD ?= build/static
CROSS_ARCHS ?= armhf arm64 mipsel mips
.PHONY: static size

static: $(KCONFIG_CONFIG)
	+@KCONFIG_CONFIG=$(KCONFIG_CONFIG) STATIC_BUILD=$(STATIC_BUILD) sh scripts/static.sh

size:
	+@sh scripts/size.sh

test-cross:
	@sh scripts/deps.sh cross
	MAILNOOK_CROSS_ARCHS="$(CROSS_ARCHS)" prove -v tests/integration/t50-cross.t

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/mailnook
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/mailnook
	install -m 0644 doc/mailnook.8 $(DESTDIR)$(PREFIX)/share/man/man8/mailnook.8
	install -m 0644 doc/mailnook.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/mailnook.conf.5
	install -m 0644 examples/mailnook.conf \
	  $(DESTDIR)$(PREFIX)/share/doc/mailnook/mailnook.conf.example

clean:
	rm -rf build mailnook

distclean: clean
	rm -f .config
	rm -rf run
