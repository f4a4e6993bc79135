# SPDX-License-Identifier: GPL-2.0
# kesync: a Windows NT driver design ported to a Linux PCI driver, with the
# QEMU device it drives.
#
#   make run     build everything, boot a guest, show the device working
#   make check   run every test; the last line is "N passed, N failed"
#
# Other targets: shell, deps, qemu, module, guest, debug, kunit, bench, lint,
# coverage, fuzz, qemu-fuzz, clean.

SHELL := /bin/bash
B := build
# The guest kernel of 'make run', 'make shell' and 'make module': a name of
# kernel/targets (6.12 = Debian 13's, the default; 6.1, 6.12-bpo, 7).
# The kernels come from Debian's archive into the cache (scripts/kernel.sh);
# 'make check' builds and boots every one.
KERNEL ?= $(shell scripts/kernel.sh names | head -n 1)
# 'make install' builds for an installed kernel: the running one unless
# KVER= or KDIR= says otherwise.
KVER ?= $(shell uname -r)
CC ?= gcc
# The kselftest harness comes from Debian's linux-source-6.1 (unpacked once
# into the cache); evaluated only when a guest program is built.
KSFT = $(shell scripts/linux-src.sh)/tools/testing/selftests
GUEST_CFLAGS = -static -O2 -g -Wall -Wextra -I$(CURDIR)/include/uapi \
	-I$(CURDIR)/tests/guest -I$(KSFT) -pthread

GUEST_C := $(wildcard tests/guest/*.c) tools/kesyncctl.c
GUEST_BIN := $(patsubst %.c,$(B)/guest/bin/%,$(notdir $(GUEST_C)))
GUEST_SH := $(wildcard tests/guest/*.sh tests/guest/*.settings)
GUEST_HDR := $(wildcard tests/guest/*.h) $(wildcard include/uapi/linux/*.h)
MODULE_SRC := $(wildcard module/*.c module/*.h module/Kbuild) $(wildcard include/uapi/linux/*.h)
INIT_SRC := scripts/guest-init scripts/guest-lib.sh scripts/initramfs.sh

# kbuild-style quiet lines ("  CC      tests/guest/kesync_data"); V=1 prints
# the whole commands.
ifeq ($(V),1)
Q :=
quiet_cc = @:
else
Q := @
quiet_cc = @printf '  %-7s %s\n' CC $(basename $<)
endif


.PHONY: FORCE all run shell check check-host check-guest deps qemu module guest \
	initramfs debug bench lint check-quick clean distclean help host-tools kunit \
	coverage fuzz qemu-fuzz

all: deps qemu initramfs

help:
	@sed -n '2,9p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/deps.sh

qemu: deps
	@scripts/qemu.sh

# The same QEMU built with clang, ASan, UBSan and libFuzzer, in a build
# directory of its own (build/fuzz/qemu/): the sanitizer and fuzz steps of
# 'make check', and 'make fuzz'.
qemu-fuzz: deps
	@scripts/qemu.sh --fuzz

module: deps $(B)/kernels/$(KERNEL)/kesync.ko

# kesync.ko for one kernel of kernel/targets, W=1, from a copy of module/;
# scripts/kernel.sh rebuilds it only for new sources or a new kernel package.
$(B)/kernels/%/kesync.ko: FORCE | deps
	@scripts/kernel.sh build $* $(B)/kernels/$*

FORCE:

$(B)/guest/bin/%: tests/guest/%.c $(GUEST_HDR) | deps
	@mkdir -p $(@D)
	$(quiet_cc)
	$(Q)$(CC) $(GUEST_CFLAGS) -o $@ $<

$(B)/guest/bin/kesyncctl: tools/kesyncctl.c $(GUEST_HDR) | deps
	@mkdir -p $(@D)
	$(quiet_cc)
	$(Q)$(CC) $(GUEST_CFLAGS) -o $@ $<

# kesyncctl for the host, for tests/host/kesyncctl-conventions.sh.
$(B)/host/kesyncctl: tools/kesyncctl.c $(GUEST_HDR) VERSION
	@mkdir -p $(@D)
	$(quiet_cc)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -I$(CURDIR)/include/uapi \
		-DKESYNC_RELEASE='"$(KESYNC_RELEASE)"' -o $@ $<

host-tools: $(B)/host/kesyncctl

guest: deps $(GUEST_BIN)
	@mkdir -p $(B)/guest/bin
	@scripts/guest-extras.sh $(B)/extras.cpio.gz
	@for f in $(GUEST_SH); do cmp -s $$f $(B)/guest/bin/$$(basename $$f) || \
		install -m 0755 $$f $(B)/guest/bin/; done

initramfs: module guest
	@scripts/mkguest.sh $(B)/initramfs-$(KERNEL).cpio.gz $(B)/kernels/$(KERNEL) \
		$(B)/guest/bin

# The debug tier: a lockdep/KASAN/kmemleak/DMA-API-debug kernel built from
# Debian's linux-source-6.1 with kesync in-tree (the project's Kconfig),
# kesync also built out-of-tree against it, and an initramfs for it.
debug: deps guest
	@set -e; obj=$$(scripts/debug-kernel.sh); \
	mkdir -p $(B)/debug/oot; \
	ln -sfn $$obj/arch/x86/boot/bzImage $(B)/debug/bzImage; \
	cp $$obj/drivers/misc/kesync/kesync.ko $(B)/debug/kesync.ko; \
	cp $$obj/drivers/misc/kesync/kesync-kunit.ko $(B)/debug/kesync-kunit.ko; \
	rsync -rc --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order \
		--exclude=Module.symvers module/ $(B)/debug/oot/module/; \
	rsync -rc include/ $(B)/debug/oot/include/; \
	$(MAKE) -s -C $$obj M=$(CURDIR)/$(B)/debug/oot/module W=1 modules \
		>$(B)/debug/oot-build.log 2>&1 || \
		{ cat $(B)/debug/oot-build.log; exit 1; }; \
	! grep -E 'warning:|error:' $(B)/debug/oot-build.log
	@scripts/mkguest.sh $(B)/initramfs-debug.cpio.gz $(B)/debug $(B)/guest/bin

# The demo's output, then what to try next (scripts/jobs/demo.next) as the
# last lines; the guest's kernel log goes to build/logs/guest-console.log.
run: all
	@scripts/run-guest.sh --kernel $(KERNEL) --job scripts/jobs/demo.sh \
		--timeout 300 $(ARGS)
	@cat scripts/jobs/demo.next

shell: all
	@scripts/run-guest.sh --kernel $(KERNEL) --interactive $(ARGS)

# make check: the device's qtest, static analysis, kesync.ko built for
# every kernel of kernel/targets, the packages and DKMS, every guest
# configuration of tests/matrix, the debug-kernel tier, and the sanitizer
# and fuzz tier (the qtest under ASan/UBSan, a bounded generic-fuzz run).
# make check-quick: the same without the debug tier, the sanitizer and
# fuzz tier and the lint, for day-to-day work (CI runs make check).
check: all debug host-tools qemu-fuzz
	@scripts/check.sh --lint --packaging --debug-tier --fuzz-tier $(ARGS)

check-quick: all host-tools
	@scripts/check.sh $(ARGS)

# Coverage of module/ and qemu-device/ (scripts/coverage.sh): the boots
# it names (BOOTS; ARGS=--all for every boot) on the debug kernel (gcov of
# kesync) and on a gcov build of QEMU; the
# report in build/coverage/html, its summary line printed by 'make check'.
coverage: all debug
	@scripts/qemu.sh --gcov
	@scripts/coverage.sh $(ARGS)

# QEMU's generic-fuzz on kesync-pci for FUZZ_TIME seconds, from the seed
# corpus and what earlier runs added (build/fuzz/corpus); a crash is kept
# in build/fuzz/artifacts (docs/testing.md: turning it into a qtest).
FUZZ_TIME ?= 600
fuzz: qemu-fuzz
	@scripts/fuzz.sh --time $(FUZZ_TIME) $(ARGS)

# The KUnit suite alone (module/.kunitconfig under kunit.py, no device).
kunit: deps qemu
	@scripts/kunit.sh

# Benchmarks: kesync against QEMU's NVMe in one guest; results in build/bench.
bench: all
	@KESYNC_KERNEL=$(KERNEL) scripts/bench.sh $(ARGS)

lint: deps
	@scripts/lint.sh

clean:
	rm -rf $(B) module/*.o module/*.ko module/*.mod module/*.mod.c \
		module/.*.cmd module/modules.order module/Module.symvers

distclean: clean
	@echo "caches under $${XDG_CACHE_HOME:-$$HOME/.cache}/kesync are kept; remove them by hand"

# ---- make install / make uninstall -----------------------------------------
#   make install [KVER=<release> | KDIR=<headers>] [DESTDIR=] [PREFIX=/usr/local]
# installs kesync.ko for one kernel through kbuild's modules_install, in
# $(INSTALL_MOD_PATH)/lib/modules/<release>/extra/ (INSTALL_MOD_PATH defaults
# to DESTDIR; depmod runs only when both are empty, a live install), the CLI
# in $(DESTDIR)$(PREFIX)/bin, its man page, and the udev rule in
# $(DESTDIR)$(UDEVRULESDIR) (not under PREFIX: udev reads only /usr/lib and
# /etc).  The rule gives the units to group kesync, which must exist
# (addgroup --system kesync; the Debian package creates it).  For every
# installed kernel, use DKMS instead (dkms.conf, the kesync-dkms package).
PREFIX ?= /usr/local
KDIR ?= /lib/modules/$(KVER)/build
INSTALL_MOD_PATH ?= $(DESTDIR)
UDEVRULESDIR ?= /usr/lib/udev/rules.d
KESYNC_RELEASE := $(shell cat VERSION)
# The headers' release as in vermagic (Debian's include/config/kernel.release
# holds the upstream version instead).
kesync_krel = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)

# kesyncctl --version in the guest too.
$(B)/guest/bin/kesyncctl: VERSION
$(B)/guest/bin/kesyncctl: GUEST_CFLAGS += -DKESYNC_RELEASE='"$(KESYNC_RELEASE)"'

.PHONY: install install-module install-tools install-udev \
	uninstall uninstall-module uninstall-tools uninstall-udev

install: install-module install-tools install-udev

install-module:
	$(MAKE) -C module KVER=$(or $(KVER),$(kesync_krel)) KDIR=$(KDIR)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/module CONFIG_KESYNC=m \
		INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) INSTALL_MOD_DIR=extra \
		modules_install
	$(if $(INSTALL_MOD_PATH),,depmod -a $(kesync_krel))

install-tools:
	$(MAKE) -C tools install PREFIX=$(PREFIX)

install-udev:
	install -D -m 0644 udev/60-kesync.rules $(DESTDIR)$(UDEVRULESDIR)/60-kesync.rules

uninstall: uninstall-module uninstall-tools uninstall-udev

uninstall-module:
	@test -n "$(kesync_krel)" || \
		{ echo "kesync: no kernel release in '$(KDIR)'; pass KVER= or KDIR=" >&2; exit 1; }
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(kesync_krel)/extra/kesync.ko*
	$(if $(INSTALL_MOD_PATH),,depmod -a $(kesync_krel))

uninstall-tools:
	$(MAKE) -C tools uninstall PREFIX=$(PREFIX)

uninstall-udev:
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-kesync.rules
