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

-include .config

CPPFLAGS += -I$(BUILD) -Icore -Istore -Iplatform -D_GNU_SOURCE \
            -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS)

CORE_SRCS := $(sort $(wildcard core/*.c))
STORE_SRCS := $(sort $(wildcard store/*.c))
PLATFORM_SRCS-y := $(filter-out platform/tls%.c,$(sort $(wildcard platform/*.c)))
PLATFORM_SRCS-$(CONFIG_TLS) += $(sort $(wildcard platform/tls*.c))
LIBS-$(CONFIG_TLS) += -lbearssl

LIB_SRCS := $(CORE_SRCS) $(STORE_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
PLATFORM_OBJS := $(PLATFORM_SRCS-y:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/t_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%.t)

.PHONY: all run test unit integration sanitize test-cross install clean \
        distclean defconfig menuconfig deps check-layering
.DEFAULT_GOAL := all

all: $(BIN)

.config:
	cp configs/defconfig .config

$(BUILD)/config.h: .config Kconfig scripts/genconfig.sh
	@mkdir -p $(@D)
	sh scripts/genconfig.sh Kconfig .config > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c $(BUILD)/config.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BIN): $(PLATFORM_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS-y) $(LDLIBS)

$(BUILD)/tests/%.t: tests/unit/%.c $(LIB_OBJS) tests/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

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
	  prove -j2 $(BUILD)/tests/*.t $(BUILD)-san/tests/*.t tests/integration/*.t

# core/ is sans-I/O: its objects may only use string and memory functions.
check-layering: $(CORE_SRCS:%.c=$(BUILD)/%.o)
	@sh scripts/check-layering.sh $^

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/doc/mailnook
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/mailnook
	install -m 0644 doc/mailnook.8 $(DESTDIR)$(PREFIX)/share/man/man8/mailnook.8
	install -m 0644 examples/mailnook.conf \
	  $(DESTDIR)$(PREFIX)/share/doc/mailnook/mailnook.conf.example

clean:
	rm -rf build mailnook

distclean: clean
	rm -f .config
	rm -rf run
