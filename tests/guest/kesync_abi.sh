#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kesync_abi: the driver's sysfs attributes and their ABI document
# (Documentation/ABI/testing/sysfs-class-kesync, in the guest as
# /kesync/share/sysfs-class-kesync) say the same thing:
# - every attribute the driver creates is documented: the files of each
#   unit's /sys/class/kesync/kesync<N>/ (stats/ too; not the device
#   model's dev, uevent, power/, subsystem, device), and the files the
#   driver adds to its PCI device, found as those there while it is bound
#   and not after an unbind (not the PCI core's msi_irqs/, nor the
#   directories of child devices): one TAP line per attribute;
# - every documented What: exists, on every unit or controller: one line
#   per What;
# - each What's "Access: Read" or "Access: Read, Write" matches the file's
#   permission bits; a read-only one refuses a write, a writable one takes
#   its own value back: one line per What;
# - every entry has What, Date, KernelVersion, Contact and Description.
# Prints TAP 13.
# shellcheck shell=sh

abi=${KESYNC_ABI_DOC:-/kesync/share/sysfs-class-kesync}
cls=/sys/class/kesync
drv=/sys/bus/pci/drivers/kesync
tmp=$(mktemp -d /tmp/kesync_abi.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
if [ ! -r "$abi" ]; then
	echo "1..0 # SKIP no ABI document $abi in this guest"
	exit 4
fi

n=0
fails=0
: >"$tmp/tap"
# ok STATUS DESCRIPTION: one TAP line, kept until the plan is known.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2" >>"$tmp/tap"
	else
		echo "not ok $n - $2" >>"$tmp/tap"
		fails=$((fails + 1))
	fi
}
# note TEXT: a TAP comment, after the line it explains.
note() {
	echo "# $*" >>"$tmp/tap"
}
finish() {
	echo "1..$n"
	cat "$tmp/tap"
	[ "$fails" -eq 0 ]
	exit
}

# The document: "WHAT ACCESS COMPLETE" a line, ACCESS ro, rw or a word
# saying what is wrong, COMPLETE yes when the entry has every field.
awk '
function flush(i) {
	for (i = 1; i <= nw; i++)
		print w[i], acc, (date && kv && contact && desc) ? "yes" : "no"
	nw = 0; acc = "missing"; date = kv = contact = desc = 0
}
BEGIN { acc = "missing" }
/^What:/ {
	if (!inwhat)
		flush()
	inwhat = 1
	sub(/^What:[ \t]*/, "")
	sub(/[ \t]+$/, "")
	w[++nw] = $0
	next
}
{ inwhat = 0 }
/^Date:/ { date = 1 }
/^KernelVersion:/ { kv = 1 }
/^Contact:/ { contact = 1 }
/^Description:/ { desc = 1 }
/^[ \t]+Access:/ {
	a = $0
	sub(/^[ \t]+Access:[ \t]*/, "", a)
	sub(/[ \t]+$/, "", a)
	acc = a == "Read" ? "ro" : a == "Read, Write" ? "rw" : "unknown"
}
END { flush() }' "$abi" >"$tmp/doc"

incomplete=$(awk '$3 != "yes" { print $1 }' "$tmp/doc")
[ -s "$tmp/doc" ] && [ -z "$incomplete" ]
ok $? "ABI document: $(wc -l <"$tmp/doc") What: entries, each with Date, KernelVersion, Contact and Description"
for w in $incomplete; do note "incomplete entry: $w"; done

# The units and the controllers.
units=''
for d in "$cls"/kesync*; do
	[ -d "$d" ] && units="$units ${d##*/}"
done
bdfs=''
for d in "$drv"/*:*.*; do
	[ -d "$d" ] && bdfs="$bdfs ${d##*/}"
done
if [ -z "$units" ] || [ -z "$bdfs" ]; then
	ok 1 "kesync units and a bound controller (units:${units:- none}, controllers:${bdfs:- none})"
	finish
fi
nunits=$(echo "$units" | wc -w)

# files DIR: the regular files under DIR, relative, sorted; not the
# device model's (uevent, dev, power/), the PCI core's MSI list
# (msi_irqs/), nor what lies in a child device's directory (one with a
# uevent of its own).  Symbolic links (device, subsystem, driver) are not
# regular files.
files() {
	(cd "$1/" && find . -mindepth 2 -name uevent) |
		sed -e 's|^\./||' -e 's|uevent$||' >"$tmp/children"
	(cd "$1/" && find . -type f) | sed 's|^\./||' |
		awk -v kids="$tmp/children" '
		BEGIN { while ((getline k < kids) > 0) child[++nk] = k }
		$0 == "uevent" || $0 == "dev" || /^power\// || /^msi_irqs\// { next }
		{ for (i = 1; i <= nk; i++) if (index($0, child[i]) == 1) next; print }' |
		sort
}

# Every unit's attributes, as the paths the document speaks of.
: >"$tmp/found"
for u in $units; do
	files "$cls/$u" | sed "s|^|$cls/$u/|" >>"$tmp/found"
done

# The controllers' own attributes: there while bound, gone once unbound.
for b in $bdfs; do
	files "/sys/bus/pci/devices/$b" >"$tmp/bound.$b"
done
for b in $bdfs; do
	echo "$b" >"$drv/unbind" || note "unbind $b failed"
done
for b in $bdfs; do
	files "/sys/bus/pci/devices/$b" >"$tmp/unbound.$b"
	echo "$b" >"$drv/bind" || note "bind $b failed"
done
# Back as before (bounded): the units, then their nodes.
i=0
while [ "$(find "$cls" -mindepth 1 -maxdepth 1 -name 'kesync*' | wc -l)" -lt "$nunits" ] &&
	[ "$i" -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
for u in $units; do
	while [ ! -e "/dev/$u" ] && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
done
back=0
for u in $units; do
	[ -e "$cls/$u" ] && [ -e "/dev/$u" ] || back=1
done
ok $back "unbind and bind of the controller(s)$bdfs: the units$units are back"
for b in $bdfs; do
	grep -v -x -F -f "$tmp/unbound.$b" "$tmp/bound.$b" |
		sed "s|^|$drv/$b/|" >>"$tmp/found"
done

# The document's What: paths as regular expressions: <...> is one path
# component (or part of one), "..." any path.
awk '{
	re = $1
	gsub(/\.\.\./, "\001", re)
	gsub(/\./, "\\.", re)
	gsub(/<[^>]*>/, "[^/]+", re)
	gsub(/\001/, ".*", re)
	print $1, "^" re "$", $2
}' "$tmp/doc" >"$tmp/re"

# found -> document: one line per attribute (the unit or controller part
# of the path generalised), each path matched by a What.
awk -v cls="$cls/" -v drv="$drv/" '
	FNR == NR { what[++nw] = $1; re[nw] = $2; next }
	{
		p = $0; key = p
		if (index(p, cls) == 1)
			sub(/\/kesync[0-9]+\//, "/kesync<N>/", key)
		else if (index(p, drv) == 1) {
			rest = substr(p, length(drv) + 1)
			key = drv "<dev>" substr(rest, index(rest, "/"))
		}
		m = ""
		for (i = 1; i <= nw; i++)
			if (p ~ re[i]) { m = what[i]; break }
		if (!(key in seen)) { seen[key] = 1; order[++nk] = key; doc[key] = m }
		if (m == "") { doc[key] = ""; missing[key] = missing[key] " " p }
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]
			print (doc[k] == "" ? "no" : "yes"), k, doc[k] == "" ? "-" : doc[k], missing[k]
		}
	}' "$tmp/re" "$tmp/found" >"$tmp/fwd"
while read -r res key what rest; do
	if [ "$res" = yes ] && [ "$what" = "$key" ]; then
		ok 0 "sysfs $key is documented"
	elif [ "$res" = yes ]; then
		ok 0 "sysfs $key is documented (What: $what)"
	else
		ok 1 "sysfs $key is documented"
		note "no What: for $rest"
	fi
done <"$tmp/fwd"

# document -> found: every What, on every unit or every controller.
while read -r what re acc; do
	case $what in
	"$cls"/*) want=$nunits; where=units ;;
	"$drv"/*) want=$(echo "$bdfs" | wc -w); where=controllers ;;
	*) want=1; where=places ;;
	esac
	grep -E "$re" "$tmp/found" >"$tmp/paths"
	got=$(wc -l <"$tmp/paths")
	[ "$got" -eq "$want" ]
	ok $? "$what exists ($got of $want $where)"

	# Access: against the permission bits; a write of a read-only file
	# fails; a writable one takes its own value back.
	bad=''
	case $acc in ro | rw) ;; *) bad=" Access: $acc" ;; esac
	while read -r p; do
		perm=$(stat -c %A "$p")
		case $acc:$perm in
		ro:*w*) bad="$bad $p:$perm" ;;
		ro:-r*)
			# Nobody may write it, root included (sysfs refuses).
			if (echo 1 >"$p") 2>/dev/null; then
				bad="$bad $p:took-a-write"
			fi
			;;
		rw:-rw*)
			v=$(cat "$p") && (echo "$v" >"$p") 2>/dev/null ||
				bad="$bad $p:refused-its-own-value"
			;;
		*) bad="$bad $p:$perm" ;;
		esac
	done <"$tmp/paths"
	[ -z "$bad" ] && [ "$got" -gt 0 ]
	ok $? "$what: documented access ($acc) matches its permission bits"
	[ -z "$bad" ] || note "not as documented:$bad"
done <"$tmp/re"

finish
