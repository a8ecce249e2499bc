# coffre - PostgreSQL backup and disaster-recovery agent.
#
#   make            build ./build/coffre
#   make deps       install the Debian packages needed to build, test and demo (root)
#   make check      unit tests, the same under ASan+UBSan, then integration tests
#   make demo       backup -> verify -> restore -> compare on throwaway servers
#   make install    PREFIX=/usr/local DESTDIR=
#   make uninstall  remove what make install installed (same PREFIX and DESTDIR)
#   make deb        build/deb/coffre_<version>_<arch>.deb (dpkg-buildpackage), lintian
#   make lint       clang-tidy, cppcheck, banned functions
#   make asan       the sanitizer build in ./build-asan
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS=60 each

PREFIX ?= /usr/local
DESTDIR ?=
# systemd looks in /usr/local/lib/systemd/system too; packages use /lib/systemd/system
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# bash-completion loads completions from $XDG_DATA_DIRS/bash-completion/completions
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR := $(PREFIX)/share/doc/coffre
# what install copies to DOCDIR and SYSTEMDUNITDIR, and uninstall removes
DOC_FILES := coffre.conf.example README.md $(sort $(wildcard docs/*.md))
UNIT_FILES := $(sort $(wildcard systemd/*.service systemd/*.timer))
BUILD ?= build
CC ?= cc

PKGS := libpq libcurl libxml-2.0 libsodium p11-kit-1 libzstd libsystemd jansson inih libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

WARN := -Wall -Wextra -Werror -Wformat=2 -Wconversion -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wno-sign-conversion
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT ?= -O2 -g
SAN ?=
# -DCF_INJECTION_POINTS: the fault tests' injection points (common/inject.h),
# compiled into the sanitizer build only
DEFS ?=
CFLAGS_ALL := -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(SAN) $(DEFS) -I. $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now $(SAN) $(LDFLAGS)

LIB_SRC := $(sort $(filter-out cli/main.c, \
                $(wildcard common/*.c stream/*.c storage/*.c storage/*/*.c pkcs11/*.c \
                           policies/*.c agent/*.c restore/*.c ops/*.c cli/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# built for the integration tests only (test_83 drives restore/cluster.c with it)
DRIVER_BIN := $(BUILD)/tests/cluster_driver
TEST_SUPPORT_SRC := $(sort $(wildcard tests/unit/support/*.c))
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps check unit asan demo install uninstall lint clean bench fuzz deb
# keep the test objects between runs (they are intermediates of a chained rule)
.SECONDARY:
all: $(BUILD)/coffre

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libcoffre.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/coffre: $(BUILD)/cli/main.o $(BUILD)/libcoffre.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/libcoffre.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lcmocka

# a PKCS#11 module that forwards to SoftHSM2 and fails on demand (test_43)
P11SHIM := $(BUILD)/tests/p11shim.so
$(P11SHIM): tests/p11shim/p11shim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE -O2 -g $(WARN) -fPIC -shared -I. $(PKG_CFLAGS) -o $@ $< -ldl

unit: $(BUILD)/coffre $(UNIT_BIN) $(DRIVER_BIN) $(P11SHIM)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	    DEFS=-DCF_INJECTION_POINTS unit

deps:
	sh tests/deps.sh

# check and demo install their packages first, then build in a sub-make so
# that pkg-config sees the freshly installed libraries.
check:
	sh tests/deps.sh
	$(MAKE) all unit
	$(MAKE) asan
	sh tests/run.sh

demo:
	sh tests/deps.sh
	$(MAKE) all
	bash tests/demo.sh

bench: all
	bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BUILD)/coffre $(DESTDIR)$(PREFIX)/bin/coffre
	install -m 0644 docs/coffre.1 $(DESTDIR)$(PREFIX)/share/man/man1/coffre.1
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	install -m 0644 completion/coffre $(DESTDIR)$(COMPLETIONDIR)/coffre
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(UNIT_FILES); do \
	    sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $$u \
	        >$(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u) && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u) || exit 1; \
	done

# every file install wrote, and coffre's own doc directory; the shared directories
# (bin, man1, the unit and completion directories) stay
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/coffre $(DESTDIR)$(PREFIX)/share/man/man1/coffre.1 \
	    $(DESTDIR)$(COMPLETIONDIR)/coffre
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	[ ! -d $(DESTDIR)$(DOCDIR) ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$(DOCDIR)
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNIT_FILES)))

# The Debian package, built from a copy of the tracked and new files (never from
# build/), so a dirty build directory cannot leak into it; lintian must pass.
deb:
	sh tests/deps.sh
	sh debian/build.sh

lint:
	sh tests/lint.sh

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} sh tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(BUILD)/cli/main.d $(UNIT_BIN:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
    $(BUILD)/tests/unit/cluster_driver.d
