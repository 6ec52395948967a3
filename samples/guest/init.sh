#!/bin/busybox sh
# /init of the swsusp-inspect sample initramfs (busybox, static).
#
# The initramfs also holds:
#   /lib/modules/order      module file names, one a line, in insmod order
#   /lib/modules/*.ko       uncompressed modules (removed once loaded)
#   /bin/marker             static marker-page helper (samples/guest/marker.c)
#   /bin/s2disk, /bin/resume, /etc/suspend.conf (and /etc/passphrase when encrypting)
#                           only in uswsusp samples: suspend-utils' userland writer and loader
#
# Disks: /dev/vda = swap disk (all zero before the hibernating boot),
#        /dev/vdb = evidence disk (a tar of /ev is written raw to it).
# Mode:  if /dev/vda carries a hibernation signature (S1SUSPEND: the kernel's, ULSUSPEND:
#        s2disk's) this is the resume boot, otherwise it is the hibernating boot.
/bin/busybox mkdir -p /proc /sys /dev /tmp /ev
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

say() { echo "SWSUSP-SAMPLE: $*"; }
die() { say "FAILED: $*"; sync; poweroff -f; sleep 5; }

say "init started, kernel $(uname -r)"
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || say "insmod $m failed"
done
# The module files are no longer needed: free their tmpfs pages (smaller image, and more
# room for the resuming kernel to load the image).
rm -rf /lib/modules
i=0
while [ ! -e /sys/block/vda/dev ] || [ ! -e /sys/block/vdb/dev ]; do
	i=$((i + 1)); [ $i -gt 100 ] && die "virtio disks did not appear"
	sleep 0.1
done
[ -b /dev/vda ] || mknod /dev/vda b $(sed 's/:/ /' /sys/block/vda/dev)
[ -b /dev/vdb ] || mknod /dev/vdb b $(sed 's/:/ /' /sys/block/vdb/dev)
VDA=$(cat /sys/block/vda/dev)
# the kernel's page size: the swap signature is in the last 10 bytes of the first page
PS=$(awk '/^KernelPageSize:/ { print $2 * 1024; exit }' /proc/self/smaps 2>/dev/null)
[ -n "$PS" ] || PS=4096
say "page size $PS"
say "swap disk vda is $VDA"
[ -e /sys/module/hibernate/parameters/compressor ] && \
	say "hibernate.compressor = $(cat /sys/module/hibernate/parameters/compressor)"

sig=$(dd if=/dev/vda bs=1 skip=$((PS - 10)) count=9 2>/dev/null)
if [ "$sig" = "S1SUSPEND" ]; then
	say "resume boot: vda carries $sig, writing $VDA to /sys/power/resume"
	echo "$VDA" > /sys/power/resume
	die "resume did not happen (still running the fresh kernel)"
fi
if [ "$sig" = "ULSUSPEND" ]; then
	say "resume boot: vda carries $sig, running /bin/resume"
	if [ -f /etc/passphrase ]; then
		/bin/resume -f /etc/suspend.conf < /etc/passphrase
	else
		/bin/resume -f /etc/suspend.conf
	fi
	die "resume did not happen (/bin/resume returned $?)"
fi

say "hibernating boot"
echo 0 > /proc/sys/vm/compact_unevictable_allowed
mkswap /dev/vda || die "mkswap"
swapon /dev/vda || die "swapon"

/bin/marker /ev/markers.txt 16 &
MARKER_PID=$!
i=0
while [ ! -e /ev/markers.txt ]; do
	i=$((i + 1)); [ $i -gt 100 ] && die "marker did not start"
	sleep 0.1
done

uname -r > /ev/uname.txt
cat /proc/cmdline > /ev/cmdline.txt
cat /proc/iomem > /ev/iomem.txt
if ! grep . /sys/firmware/memmap/*/* > /ev/memmap.txt 2>/dev/null; then
	: > /ev/memmap.txt
	for f in /sys/firmware/memmap/*/*; do
		while read -r l; do echo "$f:$l"; done < "$f" >> /ev/memmap.txt
	done
fi
# Without CONFIG_KALLSYMS_ALL (i386, arm64) only text symbols are listed; arm64 lists no _text.
grep -E ' (linux_banner|__nosave_begin|__nosave_end|_text|_stext|swapper_pg_dir|swsusp_save|hibernate)$' \
	/proc/kallsyms > /ev/kallsyms-check.txt
# For a reader of the saved kernel memory: where the VMCOREINFO note is ("<phys hex> <size
# hex>"), the note's text as /proc/kcore's ELF notes carry it (its first pages), and a
# kallsyms excerpt: "<0-based line index>\t<line>" for every line whose name is in
# /etc/kallsyms-names (written by the generator) and every Nth line (/etc/kallsyms-every),
# then "#lines\t<count>".
cat /sys/kernel/vmcoreinfo > /ev/vmcoreinfo.txt 2>/dev/null || : > /ev/vmcoreinfo.txt
dd if=/proc/kcore of=/ev/kcore-head.bin bs=4096 count=$(cat /etc/kcore-head-pages) 2>/dev/null \
	|| say "could not read /proc/kcore"
awk -v every="$(cat /etc/kallsyms-every)" -v names="$(cat /etc/kallsyms-names)" '
	BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	{ if (($3 in want) || (NR - 1) % every == 0) printf "%d\t%s\n", NR - 1, $0 }
	END { printf "#lines\t%d\n", NR }' /proc/kallsyms > /ev/kallsyms.txt

echo 0 > /sys/power/image_size || die "image_size"
echo "$VDA" > /sys/power/resume || die "resume device"
echo shutdown > /sys/power/disk || die "disk mode"
say "image_size=$(cat /sys/power/image_size) resume=$(cat /sys/power/resume) disk=$(cat /sys/power/disk)"
free

dmesg -s 4194304 > /ev/dmesg.txt
dd if=/proc/kpageflags of=/ev/kpageflags.bin bs=4096 2>/dev/null
(cd /ev && tar -cf - .) > /dev/vdb || die "evidence tar"
sync
# Keep the image small: drop the evidence copies from the tmpfs root and the page cache.
rm -rf /ev
echo 3 > /proc/sys/vm/drop_caches
free
say "evidence written, hibernating now"
if [ -x /bin/s2disk ]; then
	# suspend-utils: s2disk snapshots through /dev/snapshot, writes the image itself and
	# powers off ("shutdown method = shutdown"); it returns here after a resume
	if [ -f /etc/passphrase ]; then  # encrypted sample: s2disk asks twice
		hibernate() { cat /etc/passphrase /etc/passphrase | /bin/s2disk -f /etc/suspend.conf; }
	else
		hibernate() { /bin/s2disk -f /etc/suspend.conf; }
	fi
else
	hibernate() { echo disk > /sys/power/state; }
fi
if hibernate; then
	say "resumed (swap signature now '$(dd if=/dev/vda bs=1 skip=$((PS - 10)) count=10 2>/dev/null)')"
	kill -USR1 $MARKER_PID
	sleep 1
	say "done"
else
	say "FAILED: hibernating returned an error"
fi
sync
poweroff -f
sleep 5
