#!/usr/bin/env python3
"""Generate the real-kernel hibernation samples of swsusp-inspect.

Usage (as root, on a Debian 12 amd64 host with qemu-system-x86, qemu-system-arm,
busybox-static, gcc, libc6-dev-i386, lib32gcc-12-dev, gcc-12-aarch64-linux-gnu):

    python3 samples/generate.py --work /some/scratch/dir [--only NAME] [--uswsusp-git DIR]

For every sample it downloads a Debian kernel package (``apt-get download``, never
installed; other suites through a temporary sources file that is removed afterwards),
streams the real System.map out of the matching ``-dbg`` package, builds a busybox
initramfs (samples/guest/init.sh + samples/guest/marker.c), boots the kernel under QEMU
(TCG) with an empty swap disk, lets it hibernate, reads the evidence tar back from the
second disk, resumes a copy of the swap disk in a second boot, and writes
``samples/<name>/`` plus ``samples/systemmap/`` and ``samples/README.md``.

Python 3 standard library only.  Downloads and scratch files live in --work and are
reused on later runs (the QEMU runs themselves are redone every time).
"""

import argparse
import datetime
import functools
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
MARKER_PAGES = 16
MARKER_FILL = ('page i (0-based) = the 16-byte ASCII string "SWSUSPMARK%04d__" % i, '
               'repeated 256 times (4096 bytes)')


def marker_fill(page):
    """MARKER_FILL for the guest kernel's page size (marker.c fills whole pages)."""
    return MARKER_FILL.replace('256 times (4096 bytes)', '%d times (%d bytes)' % (page // 16, page))
CMDLINE_REST = 'nokaslr no_console_suspend loglevel=8 pm_debug_messages'
BASE_CMDLINE = 'console=ttyS0,115200 ' + CMDLINE_REST  # x86 (amd64, i386)
# samples with 'kaslr': True boot without it (the distributions' default: the kernel is slid)
CMDLINE_REST_KASLR = CMDLINE_REST.replace('nokaslr ', '')

# kallsyms.txt.xz: every /proc/kallsyms line (as root: real, KASLR-slid addresses) whose name
# is one of these, plus every KALLSYMS_EVERY-th line (0-based index 0, 97, 194, ...: for
# /proc/kallsyms' core-kernel lines the index is the symbol's index in kallsyms_names), plus
# the line count.  Names absent from a kernel (no CONFIG_KALLSYMS_ALL, other architecture)
# are simply not there.
KALLSYMS_NAMES = (
    '_text', '_stext', '_etext', '_end', '_sdata', '__bss_start', 'linux_banner',
    'init_uts_ns', 'init_top_pgt', 'init_level4_pgt', 'swapper_pg_dir', 'idmap_pg_dir',
    'vmcoreinfo_data', 'vmcoreinfo_note', 'vmcoreinfo_size', 'prb', 'printk_rb_static',
    'printk_rb_dynamic', 'log_buf', 'log_buf_len', 'e820_table', 'e820_table_firmware',
    'e820_table_kexec', 'nosave_regions', 'mem_section', 'mem_map', 'vmemmap_base',
    'page_offset_base', 'phys_base', 'kallsyms_names', 'kallsyms_offsets',
    'kallsyms_relative_base', 'kallsyms_num_syms', 'kallsyms_token_table',
    'kallsyms_token_index', 'kallsyms_markers', 'kallsyms_addresses', 'kallsyms_seqs_of_names',
    '__start_BTF', '__stop_BTF', '__nosave_begin', '__nosave_end', 'restore_registers',
    'swsusp_arch_resume', 'memblock', 'max_pfn', 'high_memory', 'contig_page_data',
    'node_data',
    # also kept: the anchors the reader's System.map code and the old check use
    'swsusp_save', 'hibernate', '_cpu_resume', 'vmalloc_base', 'init_mm', 'max_low_pfn',
    'saved_command_line', 'boot_command_line', 'kernel_config_data')
KALLSYMS_EVERY = 97
KCORE_HEAD_PAGES = 32  # /proc/kcore's ELF header and notes: the first 128 KiB of the file
SWAP_DISK_MIB = 256
EVIDENCE_DISK_MIB = 16
QEMU_TIMEOUT = 240

# Kernel package selection: suite, regex for the package name (newest version wins).
KERNELS = {
    'bookworm-6.1': {
        'suites': None,  # the host's own (bookworm) sources
        'regex': r'^linux-image-6\.1\.0-[0-9]+-amd64$',
    },
    'bookworm-6.1-686-pae': {
        'suites': None, 'arch': 'i386',
        'regex': r'^linux-image-6\.1\.0-[0-9]+-686-pae$',
    },
    # the i386 kernel without PAE (2-level page tables, 4-byte PTEs), for older PCs
    'bookworm-6.1-686': {
        'suites': None, 'arch': 'i386',
        'regex': r'^linux-image-6\.1\.0-[0-9]+-686$',
    },
    'bookworm-6.1-arm64': {
        'suites': None, 'arch': 'arm64',
        'regex': r'^linux-image-6\.1\.0-[0-9]+-arm64$',
    },
    'trixie-6.12': {
        'suites': ['trixie', 'trixie-updates', 'trixie-security'],
        'regex': r'^linux-image-6\.12\.[0-9]+\+deb13[^-]*-amd64$',
    },
    # arm64 with 16 KiB pages (CONFIG_ARM64_16K_PAGES): another page-table geometry
    'trixie-6.12-arm64-16k': {
        'suites': ['trixie', 'trixie-updates', 'trixie-security'], 'arch': 'arm64',
        'regex': r'^linux-image-6\.12\.[0-9]+\+deb13[^-]*-arm64-16k$',
    },
    # sid splits the kernel: linux-image-<kver> is empty and depends on linux-base-<kver>
    # (config, modules.builtin), linux-binary-<kver> (usr/lib/modules/<kver>/vmlinuz) and
    # linux-modules-<kver>
    'sid-7': {
        'suites': ['sid'], 'split': True,
        'regex': r'^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9]+-amd64$',
    },
}

SAMPLES = [
    # in the order they are produced
    {'name': 'deb12-6.1-lzo', 'kernel': 'bookworm-6.1', 'extra': '', 'modules': [],
     'ram_mib': 192, 'expect': 'lzo'},
    {'name': 'deb13-6.12-lz4', 'kernel': 'trixie-6.12', 'extra': 'hibernate.compressor=lz4',
     'modules': ['lz4_compress', 'lz4'], 'ram_mib': 192, 'expect': 'lz4'},
    {'name': 'deb12-6.1-nocompress', 'kernel': 'bookworm-6.1', 'extra': 'hibernate=nocompress',
     'modules': [], 'ram_mib': 192, 'expect': 'nocompress'},
    # i386 and arm64: made and resumed like the others, but their images (9.9 and 13.1 MB as
    # xz) are not committed: samples/ must stay under 40 MiB and the three amd64 images take
    # 37.5 MiB.  Their evidence is committed; swap.img.xz and the System.map are git-ignored
    # (samples/.gitignore, written from 'commit_image'), and the tests over real images run on
    # them wherever they are present.
    # i386: 64 MiB hibernated but the resuming kernel failed with -ENOMEM; 96 MiB works.
    {'name': 'deb12-6.1-i386-lzo', 'kernel': 'bookworm-6.1-686-pae', 'extra': '', 'modules': [],
     'ram_mib': 96, 'expect': 'lzo', 'commit_image': False},
    # arm64: the kernel reserves 64 MiB for CMA (CONFIG_CMA_SIZE_MBYTES=64), which the image
    # preallocation cannot use: 192 MiB was 5616 pages short, 224 MiB 1585 pages short.
    {'name': 'deb12-6.1-arm64-lzo', 'kernel': 'bookworm-6.1-arm64', 'extra': '', 'modules': [],
     'ram_mib': 256, 'expect': 'lzo', 'commit_image': False},
    # the i386 kernel without PAE (`686`): 2-level page tables (i386's other page-table layout)
    {'name': 'deb12-6.1-i386-nonpae-lzo', 'kernel': 'bookworm-6.1-686', 'extra': '',
     'modules': [], 'ram_mib': 96, 'expect': 'lzo', 'commit_image': False},
    # arm64 with 16 KiB pages: cortex-a57 lacks the 16K translation granule, cortex-a76 has it;
    # swap header, swap-map pages, chunks, markers and kpageflags are all in 16 KiB pages;
    # 256 MiB hibernated, but the resuming kernel failed with -ENOMEM (-12): 384 MiB
    {'name': 'deb13-6.12-arm64-16k-lzo', 'kernel': 'trixie-6.12-arm64-16k', 'extra': '',
     'modules': [], 'ram_mib': 384, 'expect': 'lzo', 'page_size': 16384, 'cpu': 'cortex-a76',
     'commit_image': False},
    # KASLR on, as distributions boot (no `nokaslr`): the kernel of deb13-6.12-lz4, default
    # LZO; the kallsyms excerpt, System.map and VMCOREINFO give the offset.  Image not committed.
    {'name': 'deb13-6.12-kaslr-lzo', 'kernel': 'trixie-6.12', 'extra': '', 'modules': [],
     'ram_mib': 192, 'expect': 'lzo', 'kaslr': True, 'commit_image': False},
    # uswsusp: suspend-utils' s2disk writes the image (ULSUSPEND) from /dev/snapshot and its
    # `resume` loads it; image not committed either (same size class as the kernel's LZO one)
    # s2disk of i386 (gcc -m32, static) on the 686-pae kernel: the 52-byte header
    {'name': 'deb12-6.1-i386-uswsusp-lzo', 'kernel': 'bookworm-6.1-686-pae', 'extra': '',
     'modules': [], 'ram_mib': 96, 'expect': 'uswsusp-lzo', 'writer': 'uswsusp',
     'commit_image': False},
    # and built --enable-encrypt (libgcrypt of i386): the 2416-byte header, passphrase mode
    {'name': 'deb12-6.1-i386-uswsusp-lzo-encrypted', 'kernel': 'bookworm-6.1-686-pae',
     'extra': '', 'modules': [], 'ram_mib': 96, 'expect': 'uswsusp-lzo-encrypted',
     'writer': 'uswsusp', 'encrypt': True, 'commit_image': False},
    # the newest Debian kernel (sid's 7.x, split packages), default LZO: the format and the
    # log lines of a current kernel; image not committed
    # 7.2 at 192 MiB hibernated, but the resuming kernel failed with -ENOMEM (-12)
    {'name': 'sid-7-lzo', 'kernel': 'sid-7', 'extra': '', 'modules': [], 'ram_mib': 256,
     'expect': 'lzo', 'commit_image': False},
    {'name': 'deb12-6.1-uswsusp-lzo', 'kernel': 'bookworm-6.1', 'extra': '', 'modules': [],
     'ram_mib': 192, 'expect': 'uswsusp-lzo', 'writer': 'uswsusp', 'commit_image': False},
    # the same with s2disk built --enable-encrypt (the 2432-byte header) and `encrypt = y`:
    # Blowfish-CFB under a passphrase, which the guest feeds to s2disk and resume on stdin
    {'name': 'deb12-6.1-uswsusp-lzo-encrypted', 'kernel': 'bookworm-6.1', 'extra': '',
     'modules': [], 'ram_mib': 192, 'expect': 'uswsusp-lzo-encrypted', 'writer': 'uswsusp',
     'encrypt': True, 'commit_image': False},
    # and in RSA mode: a 1024-bit key made on the host by suspend-keygen (its private half
    # AES-encrypted under the passphrase) as `RSA key file`; s2disk encrypts a random
    # Blowfish key with the public half, and resume needs the passphrase to unlock the private
    {'name': 'deb12-6.1-uswsusp-lzo-rsa', 'kernel': 'bookworm-6.1', 'extra': '',
     'modules': [], 'ram_mib': 192, 'expect': 'uswsusp-lzo-rsa', 'writer': 'uswsusp',
     'encrypt': True, 'rsa': True, 'commit_image': False},
]
RSA_KEY_BITS = 1024
# A sample's passphrase, not a secret: it is in the README and the provenance.
USWSUSP_PASSPHRASE = 'swsusp-inspect sample'

# suspend-utils (uswsusp) as maintained after its SourceForge home went quiet; Debian dropped
# the package after buster.  Built from this commit, statically, on the host (--uswsusp-git).
USWSUSP = {'repository': 'https://github.com/bircoph/suspend',
           'commit': '84d75e60b4150e08028e2b927da1acdbd37848f8',
           'configure': ['--enable-minimal', '--enable-compress'],
           'build_deps': ['autoconf', 'automake', 'libtool', 'pkg-config', 'liblzo2-dev',
                          'libx86-dev', 'libpci-dev']}
SUSPEND_CONF = '''snapshot device = /dev/snapshot
resume device = /dev/vda
image size = 0
compute checksum = y
compress = y
early writeout = y
shutdown method = shutdown
suspend loglevel = 8
max loglevel = 8
'''

VIRTIO_MODULES = ['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_ring', 'virtio',
                  'virtio_pci', 'virtio_blk']

# Per Debian architecture: QEMU, console, marker compiler, word size of `unsigned long`.
# virtio/virtio_ring are built into the arm64 kernel (modules.builtin; resolve_modules skips
# them); its PCI host (pci-host-generic) is built in, so `-drive if=virtio` (virtio-blk-pci on
# the virt machine's PCIe bus) needs the same module set as x86.
ARCHES = {
    'amd64': {'qemu': 'qemu-system-x86_64', 'machine': ['-machine', 'pc', '-cpu', 'qemu64'],
              'console': 'ttyS0,115200', 'cc': ['gcc', '-static'], 'long': 8},
    'i386': {'qemu': 'qemu-system-i386', 'machine': ['-machine', 'pc', '-cpu', 'qemu32'],
             'console': 'ttyS0,115200', 'long': 4,
             # asm/ of linux-libc-dev serves i386 and amd64; without gcc-multilib only this finds it
             'cc': ['gcc', '-m32', '-static', '-isystem', '/usr/include/x86_64-linux-gnu']},
    'arm64': {'qemu': 'qemu-system-aarch64', 'machine': ['-machine', 'virt', '-cpu', 'cortex-a57'],
              'console': 'ttyAMA0,115200', 'cc': ['aarch64-linux-gnu-gcc-12', '-static'], 'long': 8},
}


def host_arch():
    return subprocess.run(['dpkg', '--print-architecture'], check=True, capture_output=True,
                          text=True).stdout.strip()


def kernel_arch(key):
    return KERNELS[key].get('arch', 'amd64')


def apt_arch_opts(arch):
    """apt options that add a foreign architecture's indexes without touching dpkg."""
    if arch == host_arch():
        return []
    return ['-o', 'APT::Architectures::=' + host_arch(), '-o', 'APT::Architectures::=' + arch]


TEMP_SOURCES = '/etc/apt/sources.list.d/swsusp-samples-temp.sources'


def log(*a):
    print('[generate]', *a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log('$', ' '.join(shlex.quote(c) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for blk in iter(lambda: f.read(1 << 20), b''):
            h.update(blk)
    return h.hexdigest()


def marker_page(i, page=PAGE):
    return (('SWSUSPMARK%04d__' % i).encode('ascii')) * (page // 16)


# --------------------------------------------------------------------------- apt

def apt_repo_uris():
    """Base URIs of the host's configured Debian archives (read at run time)."""
    out = subprocess.run(['apt-get', 'indextargets', '--format', '$(RELEASE) $(REPO_URI)'],
                         check=True, capture_output=True, text=True).stdout
    main = sec = None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        rel, uri = parts
        if rel.endswith('-security'):
            sec = sec or uri
        elif rel in ('bookworm', 'trixie', 'bullseye', 'sid'):
            main = main or uri
    if not main:
        raise SystemExit('cannot find the Debian archive URI in the apt configuration')
    return main, sec


def dpkg_version_cmp(a, b):
    if a == b:
        return 0
    r = subprocess.run(['dpkg', '--compare-versions', a, 'lt', b])
    return -1 if r.returncode == 0 else 1


def apt_newest(regex, arch=None):
    aopts = apt_arch_opts(arch) if arch else []
    qual = ':' + arch if aopts else ''
    out = subprocess.run(['apt-cache'] + aopts + ['search', '--names-only', regex], check=True,
                         capture_output=True, text=True).stdout
    names = [l.split(' - ')[0].strip() for l in out.splitlines()]
    names = [n for n in names if re.match(regex, n)]
    if not names:
        raise SystemExit('no package matches %s' % regex)
    vers = {}
    for n in names:
        pol = subprocess.run(['apt-cache'] + aopts + ['policy', n + qual], check=True,
                             capture_output=True, text=True).stdout
        m = re.search(r'Candidate:\s*(\S+)', pol)
        if m and m.group(1) != '(none)':
            vers[n] = m.group(1)
    best = sorted(vers, key=functools.cmp_to_key(lambda a, b: dpkg_version_cmp(vers[a], vers[b])))[-1]
    return best, vers[best]


def apt_print_uri(pkg, arch=None):
    aopts = apt_arch_opts(arch) if arch else []
    if aopts:
        pkg += ':' + arch
    out = subprocess.run(['apt-get'] + aopts + ['download', '--print-uris', pkg], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"^'([^']+)'\s+(\S+)\s+(\d+)\s+SHA256:([0-9a-f]+)", out, re.M)
    if not m:
        raise SystemExit('apt-get download --print-uris %s gave no URI' % pkg)
    return {'url': m.group(1), 'filename': m.group(2), 'size': int(m.group(3)),
            'sha256': m.group(4)}


def with_arch(arch, fn):
    """Run fn() with the package indexes of a foreign `arch` (a plain update drops them again)."""
    aopts = apt_arch_opts(arch)
    if not aopts:
        return fn()
    try:
        subprocess.run(['apt-get'] + aopts + ['update', '-q'], check=False)
        return fn()
    finally:
        subprocess.run(['apt-get', 'update', '-q'], check=False)


def with_suites(suites, fn, arch=None):
    """Run fn() with a temporary apt sources file for `suites`, removed afterwards (with a
    foreign `arch`, its indexes are fetched for those suites too)."""
    if not suites:
        return fn()
    main, sec = apt_repo_uris()
    stanzas = []
    plain = [s for s in suites if not s.endswith('-security')]
    security = [s for s in suites if s.endswith('-security')]
    stanzas.append('Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n'
                   'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
                   % (main, ' '.join(plain)))
    if security and sec:
        stanzas.append('Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n'
                       'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
                       % (sec, ' '.join(security)))
    with open(TEMP_SOURCES, 'w') as f:
        f.write('\n'.join(stanzas))
    try:
        subprocess.run(['apt-get'] + (apt_arch_opts(arch) if arch else []) + ['update', '-q'],
                       check=False)
        return fn()
    finally:
        os.unlink(TEMP_SOURCES)
        subprocess.run(['apt-get', 'update', '-q'], check=False)


def ensure_kernel(work, key):
    """Download + extract the kernel package; cached as work/kernels/<key>.json."""
    spec = KERNELS[key]
    kdir = os.path.join(work, 'kernels')
    os.makedirs(kdir, exist_ok=True)
    meta_path = os.path.join(kdir, key + '.json')
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if os.path.exists(meta['deb_path']) and os.path.isdir(meta['root']):
            return meta

    arch = kernel_arch(key)

    def download(name):
        info = apt_print_uri(name, arch)
        debs = os.path.join(work, 'debs')
        os.makedirs(debs, exist_ok=True)
        path = os.path.join(debs, info['filename'])
        if not (os.path.exists(path) and sha256_file(path) == info['sha256']):
            aopts = apt_arch_opts(arch)
            run(['apt-get'] + aopts + ['download', '-q', name + (':' + arch if aopts else '')],
                cwd=debs)
        if sha256_file(path) != info['sha256']:
            raise SystemExit('sha256 mismatch for %s' % path)
        return info, path

    def query_and_download():
        pkg, version = apt_newest(spec['regex'], arch)
        img, deb_path = download(pkg)
        dbg = apt_print_uri(pkg + '-dbg', arch)
        parts = [download(pkg.replace('linux-image-', 'linux-%s-' % part, 1))
                 for part in ('base', 'binary', 'modules')] if spec.get('split') else []
        return pkg, version, img, dbg, deb_path, parts

    pkg, version, img, dbg, deb_path, parts = with_arch(
        arch, lambda: with_suites(spec['suites'], query_and_download, arch))
    if '_%s_' % version.replace(':', '%3a') not in dbg['filename']:
        raise SystemExit('dbg package %s does not match version %s' % (dbg['filename'], version))
    release = pkg[len('linux-image-'):]
    root = os.path.join(kdir, key + '-root')
    if os.path.isdir(root):
        shutil.rmtree(root)
    run(['dpkg', '-x', deb_path, root])
    for _info, path in parts:
        run(['dpkg', '-x', path, root])
    vmlinuz = 'boot/vmlinuz-' + release
    if not os.path.exists(os.path.join(root, vmlinuz)):
        vmlinuz = 'usr/lib/modules/%s/vmlinuz' % release  # split packages (sid)
    meta = {'key': key, 'arch': arch, 'package': pkg, 'version': version, 'release': release,
            'vmlinuz': vmlinuz,
            'parts': [{'filename': i['filename'], 'sha256': i['sha256']} for i, _ in parts],
            'deb_filename': img['filename'], 'deb_path': deb_path, 'deb_sha256': img['sha256'],
            'dbg_package': pkg + '-dbg', 'dbg_filename': dbg['filename'],
            'dbg_url': dbg['url'], 'dbg_sha256': dbg['sha256'], 'dbg_size': dbg['size'],
            'root': root}
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


# --------------------------------------------------------------------------- System.map

class _Limited(io.RawIOBase):
    """Read at most `n` bytes from a sequential stream."""

    def __init__(self, raw, n):
        self.raw, self.left = raw, n

    def readable(self):
        return True

    def readinto(self, b):
        if self.left <= 0:
            return 0
        want = min(len(b), self.left)
        data = self.raw.read(want)
        if not data:
            return 0
        b[:len(data)] = data
        self.left -= len(data)
        return len(data)


def _read_exact(f, n):
    buf = b''
    while len(buf) < n:
        d = f.read(n - len(buf))
        if not d:
            raise EOFError('short read')
        buf += d
    return buf


def _skip(f, n):
    while n > 0:
        d = f.read(min(n, 1 << 20))
        if not d:
            raise EOFError('short read while skipping')
        n -= len(d)


def stream_system_map(url, release):
    """Return the bytes of usr/lib/debug/boot/System.map-<release> from the -dbg .deb at `url`.

    The .deb is read sequentially straight from the HTTP response (ar archive -> data.tar.xz
    -> lzma -> tar stream); only the first regular file of the data archive is extracted,
    then the connection is closed.
    """
    wants = ('usr/lib/debug/boot/System.map-' + release,
             'usr/lib/debug/lib/modules/%s/System.map' % release)  # the second: sid
    resp = urllib.request.urlopen(url, timeout=120)
    try:
        if _read_exact(resp, 8) != b'!<arch>\n':
            raise SystemExit('not an ar archive: %s' % url)
        while True:
            hdr = _read_exact(resp, 60)
            name = hdr[0:16].decode().strip().rstrip('/')
            size = int(hdr[48:58].decode().strip())
            if name.startswith('data.tar'):
                break
            _skip(resp, size + (size & 1))
        if name != 'data.tar.xz':
            raise SystemExit('unexpected data member %s' % name)
        member_stream = io.BufferedReader(_Limited(resp, size), 1 << 16)
        xzs = lzma.LZMAFile(member_stream, 'rb')
        with tarfile.open(fileobj=xzs, mode='r|') as tf:
            for ti in tf:
                if not ti.isfile():
                    continue
                name = ti.name[2:] if ti.name.startswith('./') else ti.name
                if name not in wants:
                    raise SystemExit('first file in %s is %s, not %s' % (url, name, wants[0]))
                data = tf.extractfile(ti).read()
                log('streamed %s (%d bytes) from the -dbg package' % (name, len(data)))
                return data
        raise SystemExit('no regular file in the data archive')
    finally:
        resp.close()


def ensure_system_map(work, kmeta, samples_dir):
    rel = kmeta['release']
    cache = os.path.join(work, 'systemmap', 'System.map-' + rel)
    if not os.path.exists(cache):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        data = stream_system_map(kmeta['dbg_url'], rel)
        with open(cache + '.tmp', 'wb') as f:
            f.write(data)
        os.rename(cache + '.tmp', cache)
    with open(cache, 'rb') as f:
        data = f.read()
    for sym in (b' linux_banner\n', b' __nosave_begin\n'):
        if sym not in data:
            raise SystemExit('%s lacks %s' % (cache, sym.strip().decode()))
    out_dir = os.path.join(samples_dir, 'systemmap')
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, 'System.map-%s.xz' % rel)
    if not os.path.exists(out) or lzma.decompress(open(out, 'rb').read()) != data:
        with open(out, 'wb') as f:
            f.write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    return cache, data


def system_map_symbols(data, names):
    res = {}
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            res[parts[2]] = parts[0]
    return res


# --------------------------------------------------------------------------- initramfs

def find_modules_dir(root, release):
    for cand in ('lib/modules', 'usr/lib/modules'):
        d = os.path.join(root, cand, release)
        if os.path.isdir(d):
            return d
    raise SystemExit('no modules directory for %s in %s' % (release, root))


def module_index(mdir):
    """name -> path of every .ko / .ko.xz below mdir; set of built-in module names."""
    idx = {}
    for dp, _dn, fns in os.walk(mdir):
        for fn in fns:
            m = re.match(r'(.+)\.ko(\.xz|\.zst|\.gz)?$', fn)
            if m:
                idx[m.group(1).replace('-', '_')] = os.path.join(dp, fn)
    builtin = set()
    bpath = os.path.join(mdir, 'modules.builtin')
    if os.path.exists(bpath):
        for line in open(bpath):
            builtin.add(os.path.basename(line.strip()).split('.ko')[0].replace('-', '_'))
    return idx, builtin


def read_module(path):
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.xz'):
        data = lzma.decompress(data)
    elif path.endswith('.gz'):
        data = gzip.decompress(data)
    elif path.endswith('.zst'):
        raise SystemExit('zstd modules are not supported: %s' % path)
    return data


def module_depends(data):
    m = re.search(rb'\x00depends=([^\x00]*)\x00', data)
    if not m or not m.group(1):
        return []
    return [d.replace('-', '_') for d in m.group(1).decode().split(',') if d]


def resolve_modules(mdir, wanted):
    """Modules (name, bytes) in a valid insmod order; built-in ones are skipped."""
    idx, builtin = module_index(mdir)
    order, seen, blobs = [], set(), {}

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        if name in builtin:
            log('module %s is built in' % name)
            return
        if name not in idx:
            raise SystemExit('module %s not found in %s' % (name, mdir))
        data = read_module(idx[name])
        for dep in module_depends(data):
            visit(dep)
        blobs[name] = data
        order.append(name)

    for w in wanted:
        visit(w)
    return [(n, blobs[n]) for n in order]


class Cpio:
    """Minimal newc cpio writer."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b'', rdev=(0, 0), nlink=1):
        nb = name.encode() + b'\x00'
        hdr = '070701' + ''.join('%08X' % v for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b'\x00' * ((4 - (110 + len(nb)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b'\x00' * ((4 - len(data) % 4) % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry('TRAILER!!!', 0)
        return self.buf.getvalue()


def build_marker(work, arch):
    out = os.path.join(work, 'marker')
    src = os.path.join(HERE, 'guest', 'marker.c')
    cc = ARCHES[arch]['cc'] + ['-O2', '-Wall', '-o', out, src]
    run(cc)
    return out, ' '.join(cc[:-3] + ['-o', 'marker', 'samples/guest/marker.c'])


def elf_machine(data):
    """(ELF class, e_machine) of an ELF file: 1/2 = 32/64-bit; 3 = i386, 62 = x86_64, 183 = aarch64."""
    import struct
    if data[:4] != b'\x7fELF':
        raise SystemExit('not an ELF file')
    return data[4], struct.unpack_from('<H', data, 18)[0]


ELF_MACHINES = {'amd64': (2, 62), 'i386': (1, 3), 'arm64': (2, 183)}


def ensure_busybox(work, arch):
    """Static busybox for `arch`: the host's busybox-static, or the foreign .deb extracted."""
    if arch == host_arch():
        busybox = shutil.which('busybox') or '/bin/busybox'
        if subprocess.run(['ldd', busybox], capture_output=True).returncode == 0:
            raise SystemExit('%s is not static (install busybox-static)' % busybox)
        ver = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', 'busybox-static'],
                             capture_output=True, text=True).stdout.strip()
        return {'path': busybox, 'package': 'busybox-static:%s' % arch, 'version': ver,
                'deb': None, 'deb_sha256': None}
    os.makedirs(os.path.join(work, 'busybox'), exist_ok=True)
    meta_path = os.path.join(work, 'busybox', arch + '.json')
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if os.path.exists(meta['path']):
            return meta
    debs = os.path.join(work, 'debs')
    os.makedirs(debs, exist_ok=True)

    def dl():
        info = apt_print_uri('busybox-static', arch)
        _n, ver = apt_newest(r'^busybox-static$', arch)
        deb = os.path.join(debs, info['filename'])
        if not (os.path.exists(deb) and sha256_file(deb) == info['sha256']):
            run(['apt-get'] + apt_arch_opts(arch) + ['download', '-q', 'busybox-static:' + arch],
                cwd=debs)
        return info, ver, deb
    info, ver, deb = with_arch(arch, dl)
    if sha256_file(deb) != info['sha256']:
        raise SystemExit('sha256 mismatch for %s' % deb)
    root = os.path.join(work, 'busybox', arch + '-root')
    if os.path.isdir(root):
        shutil.rmtree(root)
    run(['dpkg', '-x', deb, root])
    meta = {'path': os.path.join(root, 'bin', 'busybox'), 'package': 'busybox-static:' + arch,
            'version': ver, 'deb': info['filename'], 'deb_sha256': info['sha256']}
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def suspend_conf(encrypt, rsa=False):
    return (SUSPEND_CONF + ('encrypt = y\n' if encrypt else '')
            + ('RSA key file = /etc/suspend.key\n' if rsa else ''))


def make_rsa_key(uswsusp, path):
    """suspend-keygen on the host: RSA_KEY_BITS bits, the private half under the passphrase."""
    if os.path.exists(path):
        os.unlink(path)
    answers = '%d\n%s\n%s\n%s\n' % (RSA_KEY_BITS, USWSUSP_PASSPHRASE, USWSUSP_PASSPHRASE, path)
    run([uswsusp['suspend-keygen']['path']], input=answers.encode(), stdout=subprocess.DEVNULL)
    return open(path, 'rb').read()


I386_BUILD_DEBS = ('liblzo2-dev', 'liblzo2-2')
I386_ENCRYPT_DEBS = ('libgcrypt20-dev', 'libgcrypt20', 'libgpg-error-dev', 'libgpg-error0')


def i386_lzo_sysroot(work, encrypt=False):
    """liblzo2 (and for encryption libgcrypt and libgpg-error) of i386 extracted into a
    sysroot (dpkg untouched)."""
    root = os.path.join(work, 'uswsusp-i386-sysroot' + ('-encrypt' if encrypt else ''))
    debs = os.path.join(work, 'debs')
    os.makedirs(debs, exist_ok=True)

    def dl():
        out = []
        for pkg in I386_BUILD_DEBS + (I386_ENCRYPT_DEBS if encrypt else ()):
            info = apt_print_uri(pkg, 'i386')
            deb = os.path.join(debs, info['filename'])
            if not (os.path.exists(deb) and sha256_file(deb) == info['sha256']):
                run(['apt-get'] + apt_arch_opts('i386') + ['download', '-q', pkg + ':i386'],
                    cwd=debs)
            if sha256_file(deb) != info['sha256']:
                raise SystemExit('sha256 mismatch for %s' % deb)
            out.append(deb)
        return out
    if os.path.isdir(root):
        shutil.rmtree(root)
    for deb in with_arch('i386', dl):
        run(['dpkg', '-x', deb, root])
    return root


def ensure_uswsusp(work, git_dir, encrypt=False, arch='amd64'):
    """Static s2disk and resume built from USWSUSP['commit'] (cached in WORK/uswsusp[-encrypt]);
    with ``encrypt``, configured --enable-encrypt (libgcrypt, linked statically); for i386,
    built with ``gcc -m32`` against liblzo2 of i386 (WORK/uswsusp-i386)."""
    out = os.path.join(work, 'uswsusp' + ('-encrypt' if encrypt else '')
                       + ('' if arch == 'amd64' else '-' + arch))
    configure = USWSUSP['configure'] + (['--enable-encrypt'] if encrypt else [])
    make = ['make', 's2disk', 'resume'] + (['suspend-keygen'] if encrypt else []) + [
        'LDFLAGS=-all-static'] + (['LIBS=-lgpg-error'] if encrypt else [])
    env = None
    if arch == 'i386':
        sysroot = i386_lzo_sysroot(work, encrypt)
        lib = os.path.join(sysroot, 'usr', 'lib', 'i386-linux-gnu')
        inc = os.path.join(sysroot, 'usr', 'include')
        # the libpci/libx86 checks are for s2ram, which is not built; s2disk links neither
        configure += ['--host=i686-linux-gnu', '--build=x86_64-linux-gnu', 'CC=gcc -m32',
                      'CPPFLAGS=-I%s -isystem /usr/include/x86_64-linux-gnu' % inc,
                      'LDFLAGS=-L' + lib, 'LIBPCI_CFLAGS= ', 'LIBPCI_LIBS=-lpci',
                      'LIBX86_LIBS=-lx86']
        if encrypt:  # AM_PATH_LIBGCRYPT asks libgcrypt-config: the i386 package's own
            configure += ['LIBGCRYPT_CONFIG=' + os.path.join(sysroot, 'usr', 'bin',
                                                             'libgcrypt-config')]
        make = ['make', 's2disk', 'resume'] + (['suspend-keygen'] if encrypt else []) + [
            'LDFLAGS=-all-static -L' + lib] + (['LIBS=-lgpg-error'] if encrypt else [])
    elif arch != 'amd64':
        raise SystemExit('uswsusp samples are built for amd64 and i386 only')
    tools = ('s2disk', 'resume') + (('suspend-keygen',) if encrypt else ())
    meta_path = os.path.join(out, 'meta.json')
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta['commit'] == USWSUSP['commit'] and meta['configure'] == configure and all(
                k in meta and os.path.exists(meta[k]['path']) for k in tools):
            return meta
    if not git_dir:
        raise SystemExit('uswsusp samples need --uswsusp-git DIR: a git repository holding %s '
                         '(a clone of %s)' % (USWSUSP['commit'], USWSUSP['repository']))
    deps = USWSUSP['build_deps'] + (['libgcrypt20-dev'] if encrypt else [])
    missing = [p for p in deps if subprocess.run(
        ['dpkg-query', '-W', '-f=${Status}', p], capture_output=True, text=True
    ).stdout.split()[-1:] != ['installed']]
    if missing:
        raise SystemExit('uswsusp build needs: apt-get install ' + ' '.join(missing))
    src = os.path.join(out, 'src')
    if os.path.isdir(src):
        shutil.rmtree(src)
    os.makedirs(src)
    tar = subprocess.run(['git', '--git-dir', git_dir, 'archive', '--format=tar',
                          USWSUSP['commit']], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(src)
    run(['sh', './autogen.sh'], cwd=src)
    run(['./configure'] + configure, cwd=src, env=env)
    run(make, cwd=src, env=env)
    meta = {'repository': USWSUSP['repository'], 'commit': USWSUSP['commit'],
            'source_tar_sha256': hashlib.sha256(tar).hexdigest(),
            'configure': configure, 'make': ' '.join(make)}
    for k in tools:
        path = os.path.join(src, k)
        meta[k] = {'path': path, 'sha256': sha256_file(path)}
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def build_initramfs(work, kmeta, extra_modules, uswsusp=None, encrypt=False, rsa_key=None):
    arch = kmeta.get('arch', 'amd64')
    mdir = find_modules_dir(kmeta['root'], kmeta['release'])
    mods = resolve_modules(mdir, VIRTIO_MODULES + list(extra_modules))
    log('insmod order: ' + ' '.join(n for n, _ in mods))
    bbmeta = ensure_busybox(os.path.dirname(os.path.dirname(work)), arch)
    busybox = bbmeta['path']
    bb = open(busybox, 'rb').read()
    marker_path, marker_cc = build_marker(work, arch)
    marker = open(marker_path, 'rb').read()
    for what, data in (('busybox', bb), ('marker', marker)):
        if elf_machine(data) != ELF_MACHINES[arch]:
            raise SystemExit('%s is not a %s binary: %r' % (what, arch, elf_machine(data)))
    for n, data in mods:
        if elf_machine(data) != ELF_MACHINES[arch]:
            raise SystemExit('module %s is not a %s object' % (n, arch))
    c = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'ev', 'lib', 'lib/modules', 'etc'):
        c.dir(d)
    c.chardev('dev/console', 5, 1)
    c.chardev('dev/null', 1, 3)
    c.file('bin/busybox', bb, 0o755)
    c.file('bin/marker', marker, 0o755)
    c.file('init', open(os.path.join(HERE, 'guest', 'init.sh'), 'rb').read(), 0o755)
    # what init.sh's kallsyms excerpt and /proc/kcore read take
    c.file('etc/kallsyms-names', (' '.join(KALLSYMS_NAMES) + '\n').encode())
    c.file('etc/kallsyms-every', b'%d\n' % KALLSYMS_EVERY)
    c.file('etc/kcore-head-pages', b'%d\n' % KCORE_HEAD_PAGES)
    if uswsusp is not None:
        for k in ('s2disk', 'resume'):
            c.file('bin/' + k, open(uswsusp[k]['path'], 'rb').read(), 0o755)
        c.file('etc/suspend.conf', suspend_conf(encrypt, rsa_key is not None).encode())
        if rsa_key is not None:
            c.file('etc/suspend.key', rsa_key, 0o600)
        if encrypt:  # init.sh feeds it to s2disk (twice: it asks to verify) and to resume
            c.file('etc/passphrase', (USWSUSP_PASSPHRASE + '\n').encode(), 0o600)
    c.file('lib/modules/order', ''.join('%s.ko\n' % n for n, _ in mods).encode())
    for n, data in mods:
        c.file('lib/modules/%s.ko' % n, data)
    path = os.path.join(work, 'initrd-%s-%s%s.cpio.gz' % (kmeta['release'], '-'.join(extra_modules) or 'base',
                                                       ('-uswsusp-rsa' if rsa_key else
                                                        '-uswsusp-encrypt' if encrypt else '-uswsusp')
                                                       if uswsusp else ''))
    with open(path, 'wb') as f:
        f.write(gzip.compress(c.finish(), 6, mtime=0))
    return path, [n for n, _ in mods], bbmeta, marker_cc


# --------------------------------------------------------------------------- QEMU

def qemu_version(arch='amd64'):
    out = subprocess.run([ARCHES[arch]['qemu'], '--version'], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip()


def qemu_cmd(kernel, initrd, cmdline, ram, swap, evidence, console, arch='amd64', cpu=None):
    a = ARCHES[arch]
    machine = list(a['machine'])
    if cpu:  # a sample's own CPU model (arm64 16 KiB pages: cortex-a57 has no 16K granule)
        machine[machine.index('-cpu') + 1] = cpu
    return [a['qemu'], '-accel', 'tcg'] + machine + [
            '-smp', '1', '-m', str(ram), '-nodefaults', '-no-user-config', '-display', 'none',
            '-vga', 'none', '-no-reboot', '-monitor', 'none',
            '-serial', 'file:' + console,
            '-kernel', kernel, '-initrd', initrd, '-append', cmdline,
            '-drive', 'file=%s,format=raw,if=virtio,cache=writeback' % swap,
            '-drive', 'file=%s,format=raw,if=virtio,cache=writeback' % evidence]


def run_qemu(cmd):
    log('$', ' '.join(shlex.quote(c) for c in cmd))
    t0 = datetime.datetime.now()
    try:
        r = subprocess.run(cmd, timeout=QEMU_TIMEOUT, stdin=subprocess.DEVNULL)
        rc = r.returncode
    except subprocess.TimeoutExpired:
        rc = 'timeout'
    secs = (datetime.datetime.now() - t0).total_seconds()
    log('qemu finished: rc=%s after %.1f s' % (rc, secs))
    return rc, secs


def zero_disk(path, mib):
    if os.path.exists(path):
        os.unlink(path)
    with open(path, 'wb') as f:
        f.truncate(mib << 20)


def trimmed_image(path, page=PAGE):
    """Bytes of the disk up to and including its last non-zero page (of the guest's size)."""
    with open(path, 'rb') as f:
        data = f.read()
    end = len(data)
    zero = bytes(page)
    while end >= page and data[end - page:end] == zero:
        end -= page
    return data[:end]


def on_disk_summary(img, long_size=8, PAGE=PAGE):  # noqa: N803 (the guest's page size)
    """Header fields and swap-map facts of the trimmed image (reads past its end are zeros).

    The swap header tail and the swap-map pages use 8-byte sector_t on every architecture;
    swsusp_info uses `unsigned long` (4 bytes on i386): image_pages/pages at 416/424 (64-bit)
    or 404/408 (i386).
    """
    import struct

    def page(i):
        return img[i * PAGE:(i + 1) * PAGE].ljust(PAGE, b'\0')
    h = page(0)
    res = {'signature': h[PAGE - 10:].rstrip(b'\0').decode('ascii', 'replace'),
           'orig_signature': h[PAGE - 20:PAGE - 10].rstrip(b'\0').decode('ascii', 'replace'),
           'flags': struct.unpack_from('<I', h, PAGE - 24)[0],
           'image': struct.unpack_from('<Q', h, PAGE - 32)[0],
           'crc32': '%08x' % struct.unpack_from('<I', h, PAGE - 36)[0],
           'trimmed_pages': len(img) // PAGE}
    entries, mp, nmaps = [], res['image'], 0
    while mp and nmaps < 100000:
        per = PAGE // 8  # swap_map_page: PAGE_SIZE / 8 - 1 sector_t entries + next_swap
        e = struct.unpack_from('<%dQ' % per, page(mp))
        entries += [x for x in e[:per - 1] if x]
        mp, nmaps = e[per - 1], nmaps + 1
    res['swap_map_pages'] = nmaps
    res['map_entries'] = len(entries)
    if entries:
        info = page(entries[0])
        res['swsusp_info_page'] = entries[0]
        res['max_map_entry'] = max(entries)
        lf, (oi, op) = ('<Q', (416, 424)) if long_size == 8 else ('<I', (404, 408))
        res['info_long_bytes'] = long_size
        res['info_image_pages'] = struct.unpack_from(lf, info, oi)[0]
        res['info_pages'] = struct.unpack_from(lf, info, op)[0]
        res['map_entries_beyond_trimmed_end'] = sum(1 for x in entries if x >= len(img) // PAGE)
    return res


def uswsusp_on_disk_summary(img, long_size=8):
    """suspend-utils' header facts (swsusp.h): struct swsusp_header { loff_t image;
    char orig_sig[10]; char sig[10]; } at the end of page 0, image = byte offset of the
    struct image_header_info page { unsigned long pages; u32 flags; loff_t map_start;
    loff_t image_data_size; unsigned char checksum[16]; double writeout_time;
    int resume_pause; } (x86_64: map_start at 16; i386, 4-byte long and 4-byte aligned
    loff_t: at 8)."""
    import struct

    h = img[:PAGE].ljust(PAGE, b'\0')
    res = {'signature': h[PAGE - 10:].rstrip(b'\0').decode('ascii', 'replace'),
           'orig_signature': h[PAGE - 20:PAGE - 10].rstrip(b'\0').decode('ascii', 'replace'),
           'image_byte_offset': struct.unpack_from('<q', h, PAGE - 28)[0],
           'trimmed_pages': len(img) // PAGE}
    off = res['image_byte_offset']
    hi = img[off:off + 64].ljust(64, b'\0')
    fmt, ck = ('<QI4xqq', 32) if long_size == 8 else ('<IIqq', 24)
    pages, flags, map_start, data_size = struct.unpack_from(fmt, hi, 0)
    res.update({'header_info_page': off // PAGE, 'pages': pages, 'flags': flags,
                'map_start': map_start, 'image_data_size': data_size,
                'checksum_md5': hi[ck:ck + 16].hex()})
    return res


def read_evidence(path):
    res = {}
    with tarfile.open(path, 'r:') as tf:
        for ti in tf:
            if ti.isfile():
                res[os.path.basename(ti.name)] = tf.extractfile(ti).read()
    return res


def kallsyms_excerpt(name, raw):
    """The guest's kallsyms excerpt (init.sh: "<index>\t<line>" lines, then "#lines\t<N>")
    checked and given a header; returns (text, N)."""
    lines = raw.decode().splitlines()
    if not lines or not lines[-1].startswith('#lines\t'):
        raise SystemExit('%s: kallsyms excerpt lacks its line count' % name)
    total = int(lines[-1].split('\t')[1])
    body = lines[:-1]
    idx = [int(ln.split('\t', 1)[0]) for ln in body]
    if idx != sorted(set(idx)) or (idx and idx[-1] >= total):
        raise SystemExit('%s: kallsyms excerpt indexes out of order' % name)
    sampled = [i for i in idx if i % KALLSYMS_EVERY == 0]
    if sampled != list(range(0, total, KALLSYMS_EVERY)):
        raise SystemExit('%s: kallsyms excerpt misses sampled lines' % name)
    head = ['# /proc/kallsyms of the hibernating guest, read as root just before hibernating',
            '# (real addresses: KASLR-slid unless the command line has nokaslr).',
            '# Each line: 0-based line index, TAB, the line as /proc/kallsyms printed it.',
            '# Kept: every line whose name is in generate.py KALLSYMS_NAMES, and every line',
            '# whose index is a multiple of %d (for core-kernel lines, the index is the' % KALLSYMS_EVERY,
            '# symbol\'s position in kallsyms_names).',
            '# lines in /proc/kallsyms: %d' % total]
    return '\n'.join(head + body) + '\n', total


def kallsyms_address(text, sym):
    """Address of the first core-kernel (no [module]) line named ``sym`` in the excerpt."""
    for ln in text.splitlines():
        if ln.startswith('#'):
            continue
        parts = ln.split('\t', 1)[1].split()
        if len(parts) == 3 and parts[2] == sym:
            return int(parts[0], 16)
    return None


def kaslr_facts(name, cmdline, kallsyms_text, smap):
    """KASLR offset = kallsyms' _text - System.map's _text (arm64 without
    CONFIG_KALLSYMS_ALL lists no _text: _stext there); 0 with nokaslr."""
    nokaslr = 'nokaslr' in cmdline.split()
    for sym in ('_text', '_stext'):
        live = kallsyms_address(kallsyms_text, sym)
        mapped = system_map_symbols(smap, {sym}).get(sym)
        if live is not None and mapped is not None:
            break
    else:
        raise SystemExit('%s: neither _text nor _stext in both kallsyms and System.map' % name)
    offset = live - int(mapped, 16)
    if nokaslr and offset:
        raise SystemExit('%s: nokaslr, yet kallsyms %s is %#x off System.map' % (name, sym, offset))
    return {'nokaslr': nokaslr, 'symbol': sym, 'kallsyms': '%x' % live, 'system_map': mapped,
            'offset': offset, 'offset_hex': ('-%#x' % -offset) if offset < 0 else '%#x' % offset,
            'rule': 'offset = kallsyms %s - System.map %s' % (sym, sym)}


def elf_notes(blob):
    """(name, type, desc) of every note in the PT_NOTE segments of an ELF file's head."""
    import struct
    if len(blob) < 64 or blob[:4] != b'\x7fELF' or blob[5] != 1:
        return []
    if blob[4] == 2:
        phoff, = struct.unpack_from('<Q', blob, 32)
        phentsize, phnum = struct.unpack_from('<HH', blob, 54)
        ph = lambda o: struct.unpack_from('<IIQQQQQQ', blob, o)  # noqa: E731
        seg = lambda p: (p[2], p[5])  # noqa: E731  (p_offset, p_filesz)
    else:
        phoff, = struct.unpack_from('<I', blob, 28)
        phentsize, phnum = struct.unpack_from('<HH', blob, 42)
        ph = lambda o: struct.unpack_from('<IIIIIIII', blob, o)  # noqa: E731
        seg = lambda p: (p[1], p[4])  # noqa: E731
    notes = []
    for i in range(phnum):
        p = ph(phoff + i * phentsize)
        if p[0] != 4:  # PT_NOTE
            continue
        off, size = seg(p)
        end = off + size
        if end > len(blob):
            raise SystemExit('/proc/kcore notes end at %#x, past the %#x bytes read' % (end, len(blob)))
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from('<III', blob, off)
            nm = blob[off + 12:off + 12 + namesz].rstrip(b'\0').decode('ascii', 'replace')
            d0 = off + 12 + ((namesz + 3) & ~3)
            notes.append((nm, ntype, blob[d0:d0 + descsz]))
            off = d0 + ((descsz + 3) & ~3)
    return notes


def vmcoreinfo_facts(name, sysfs, kcore, kaslr):
    """/sys/kernel/vmcoreinfo ("<phys hex> <size hex>": where the VMCOREINFO ELF note is and
    the size reserved for it) and the note's text from /proc/kcore's VMCOREINFO note (the
    same vmcoreinfo_data the note at that address wraps), cross-checked with KASLR."""
    line = sysfs.decode().strip()
    res = {'sysfs': line or None, 'phys_addr': None, 'phys_addr_hex': None, 'size': None,
           'note_file': None, 'note_from': None}
    if line:
        a, b = line.split()
        res.update(phys_addr=int(a, 16), phys_addr_hex='%#x' % int(a, 16), size=int(b, 16))
    for nm, _t, desc in elf_notes(kcore or b''):
        if nm == 'VMCOREINFO':
            text = desc.rstrip(b'\0')
            keys = dict(ln.split('=', 1) for ln in text.decode().splitlines() if '=' in ln)
            res.update(note_file='vmcoreinfo-note.txt', note_text=text, note_bytes=len(desc),
                       note_from='/proc/kcore (its PT_NOTE segment, note "VMCOREINFO")',
                       note_keys={k: keys[k] for k in (
                           'OSRELEASE', 'PAGESIZE', 'KERNELOFFSET', 'NUMBER(phys_base)',
                           'SYMBOL(_stext)', 'SYMBOL(swapper_pg_dir)', 'NUMBER(VA_BITS)',
                           'NUMBER(kimage_voffset)', 'NUMBER(PHYS_OFFSET)',
                           'NUMBER(pgtable_l5_enabled)', 'SYMBOL(init_top_pgt)',
                           'SYMBOL(prb)', 'SYMBOL(mem_section)', 'SYMBOL(page_offset_base)',
                           'SYMBOL(vmemmap_base)') if k in keys})
            if 'KERNELOFFSET' in keys and int(keys['KERNELOFFSET'], 16) != kaslr['offset']:
                raise SystemExit('%s: VMCOREINFO KERNELOFFSET=%s, kallsyms says %#x'
                                 % (name, keys['KERNELOFFSET'], kaslr['offset']))
            res['kerneloffset_equals_kaslr_offset'] = (
                int(keys['KERNELOFFSET'], 16) == kaslr['offset'] if 'KERNELOFFSET' in keys else None)
            break
    if line and res['note_file'] is None:
        log('WARNING: %s: /sys/kernel/vmcoreinfo present, but no VMCOREINFO note in /proc/kcore' % name)
    return res


# --------------------------------------------------------------------------- one sample

def make_sample(args, sample, samples_dir):
    name = sample['name']
    work = args.work
    swork = os.path.join(work, 'run', name)
    os.makedirs(swork, exist_ok=True)
    kmeta = ensure_kernel(work, sample['kernel'])
    smap_path, smap = ensure_system_map(work, kmeta, samples_dir)
    rel = kmeta['release']
    arch = kmeta.get('arch', 'amd64')
    vmlinuz = os.path.join(kmeta['root'], kmeta.get('vmlinuz', 'boot/vmlinuz-' + rel))
    kernel = vmlinuz
    if arch == 'arm64':
        # QEMU loads the uncompressed arm64 Image; gunzip it on the host if it is compressed.
        raw = open(vmlinuz, 'rb').read()
        if raw[:2] == b'\x1f\x8b':
            raw = gzip.decompress(raw)
        if raw[56:60] != b'ARM\x64':
            raise SystemExit('%s is not an arm64 Image' % vmlinuz)
        kernel = os.path.join(work, 'kernels', 'Image-' + rel)
        if not os.path.exists(kernel) or open(kernel, 'rb').read() != raw:
            with open(kernel, 'wb') as f:
                f.write(raw)
    writer = sample.get('writer', 'kernel')
    encrypt = bool(sample.get('encrypt'))
    uswsusp = (ensure_uswsusp(work, args.uswsusp_git, encrypt, kernel_arch(sample['kernel']))
               if writer == 'uswsusp' else None)
    rsa_key = (make_rsa_key(uswsusp, os.path.join(swork, 'suspend.key'))
               if sample.get('rsa') else None)
    initrd, modules, bbmeta, marker_cc = build_initramfs(swork, kmeta, sample['modules'], uswsusp,
                                                         encrypt, rsa_key)
    want_sig = b'ULSUSPEND\x00' if writer == 'uswsusp' else b'S1SUSPEND\x00'
    cmdline = 'console=%s %s' % (ARCHES[arch]['console'],
                                 CMDLINE_REST_KASLR if sample.get('kaslr') else CMDLINE_REST)
    cmdline += (' ' + sample['extra'] if sample['extra'] else '')
    ram = args.ram_mib or sample['ram_mib']
    page_size = sample.get('page_size', PAGE)  # the guest kernel's (arm64 -16k: 16384)

    swap = os.path.join(swork, 'swap.img')
    evid = os.path.join(swork, 'evidence.img')
    console = os.path.join(swork, 'console.log')
    for attempt in range(1, 4):
        zero_disk(swap, SWAP_DISK_MIB)
        zero_disk(evid, EVIDENCE_DISK_MIB)
        if os.path.exists(console):
            os.unlink(console)
        hcmd = qemu_cmd(kernel, initrd, cmdline, ram, swap, evid, console, arch, sample.get('cpu'))
        rc, hsecs = run_qemu(hcmd)
        con = open(console, 'rb').read().decode('utf-8', 'replace')
        with open(swap, 'rb') as f:
            f.seek(page_size - 10)
            sig = f.read(10)
        ok = (rc == 0 and sig == want_sig and 'Image created' in con
              and 'evidence written, hibernating now' in con)
        if ok:
            break
        log('attempt %d failed (rc=%s, signature %r); console tail:\n%s'
            % (attempt, rc, sig, con[-3000:]))
    else:
        raise SystemExit('%s: hibernation failed 3 times' % name)

    # Resume from a copy (resume rewrites the signature; keep the original untouched).
    rswap = os.path.join(swork, 'resume-swap.img')
    revid = os.path.join(swork, 'resume-evidence.img')
    rconsole = os.path.join(swork, 'resume.log')
    shutil.copyfile(swap, rswap)
    shutil.copyfile(evid, revid)
    if os.path.exists(rconsole):
        os.unlink(rconsole)
    rcmd = qemu_cmd(kernel, initrd, cmdline, ram, rswap, revid, rconsole, arch, sample.get('cpu'))
    rrc, rsecs = run_qemu(rcmd)
    rcon = open(rconsole, 'rb').read().decode('utf-8', 'replace')
    resumed = 'SWSUSP-SAMPLE: resumed' in rcon
    m = re.search(r'SWSUSP-SAMPLE: marker: (\d+)/(\d+) pages intact, (\d+)/(\d+) at the same pfn', rcon)
    markers_after_resume = m.group(0)[len('SWSUSP-SAMPLE: '):] if m else None

    if not (resumed and m and len({m.group(k) for k in (1, 2, 3, 4)}) == 1):
        raise SystemExit('%s: resume from the copy failed (%s); samples/%s left unchanged; '
                         'resume.log tail:\n%s' % (name, markers_after_resume, name, rcon[-3000:]))
    ev = read_evidence(evid)
    for k in ('dmesg.txt', 'iomem.txt', 'memmap.txt', 'cmdline.txt', 'kpageflags.bin',
              'markers.txt', 'uname.txt', 'kallsyms-check.txt', 'kallsyms.txt',
              'vmcoreinfo.txt'):
        if k not in ev:
            raise SystemExit('%s: evidence lacks %s' % (name, k))
    uname = ev['uname.txt'].decode().strip()
    if uname != rel:
        raise SystemExit('%s: guest runs %s, expected %s' % (name, uname, rel))
    kallsyms_text, kallsyms_lines = kallsyms_excerpt(name, ev['kallsyms.txt'])
    kaslr = kaslr_facts(name, ev['cmdline.txt'].decode(), kallsyms_text, smap)
    vmcoreinfo = vmcoreinfo_facts(name, ev['vmcoreinfo.txt'], ev.get('kcore-head.bin'), kaslr)
    # kallsyms must agree with the System.map, once the KASLR offset is taken off
    ks = {}
    for line in ev['kallsyms-check.txt'].decode().splitlines():
        p = line.split()
        if len(p) == 3:
            ks[p[2]] = p[0]
    sm = system_map_symbols(smap, set(ks))
    kallsyms_match = bool(ks) and all(
        k in sm and int(sm[k], 16) + kaslr['offset'] == int(v, 16) for k, v in ks.items())
    if not kallsyms_match:
        log('WARNING: kallsyms %r vs System.map %r (KASLR offset %#x)' % (ks, sm, kaslr['offset']))

    markers = []
    for line in ev['markers.txt'].decode().splitlines():
        p = line.split()
        if len(p) == 4 and p[0] == 'MARK':
            i, pfn, present = int(p[1]), int(p[2]), int(p[3])
            if not present:
                raise SystemExit('%s: marker page %d not present' % (name, i))
            markers.append({'index': i, 'pfn': pfn,
                            'sha256': hashlib.sha256(marker_page(i, page_size)).hexdigest()})
    if len(markers) != MARKER_PAGES:
        raise SystemExit('%s: got %d markers' % (name, len(markers)))

    # ---- write the sample directory
    out = os.path.join(samples_dir, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    img = trimmed_image(swap, page_size)
    img_sha = hashlib.sha256(img).hexdigest()
    with open(os.path.join(out, 'swap.img.xz'), 'wb') as f:
        f.write(lzma.compress(img, preset=9 | lzma.PRESET_EXTREME))
    shutil.copyfile(console, os.path.join(out, 'console.log'))
    shutil.copyfile(rconsole, os.path.join(out, 'resume.log'))
    for k in ('dmesg.txt', 'iomem.txt', 'memmap.txt', 'cmdline.txt'):
        if k == 'memmap.txt' and not ev[k].strip():
            continue  # no /sys/firmware/memmap (arm64 boots from a device tree, no e820)
        with open(os.path.join(out, k), 'wb') as f:
            f.write(ev[k])
    if rsa_key is not None:  # the key file s2disk used; its private half is passphrase-encrypted
        with open(os.path.join(out, 'suspend.key'), 'wb') as f:
            f.write(rsa_key)
    with open(os.path.join(out, 'kpageflags.bin.xz'), 'wb') as f:
        f.write(lzma.compress(ev['kpageflags.bin'], preset=9 | lzma.PRESET_EXTREME))
    with open(os.path.join(out, 'vmcoreinfo.txt'), 'wb') as f:
        f.write(ev['vmcoreinfo.txt'])
    if vmcoreinfo['note_file']:
        with open(os.path.join(out, vmcoreinfo['note_file']), 'wb') as f:
            f.write(vmcoreinfo.pop('note_text'))
    with open(os.path.join(out, 'kallsyms.txt.xz'), 'wb') as f:
        f.write(lzma.compress(kallsyms_text.encode(), preset=9 | lzma.PRESET_EXTREME))
    with open(os.path.join(out, 'markers.json'), 'w') as f:
        json.dump({'page_size': page_size, 'fill': marker_fill(page_size), 'markers': markers},
                  f, indent=1)
        f.write('\n')

    lines = {}
    for key, pat in (('image_created', r'Image created \([^)]*\)'),
                     ('image_data', r'[^\n]*image data[^\n]*\(\d+ pages\)[^\n]*'),
                     ('compression', r'Using \d+ thread\(s\) for [^\n]*'),
                     ('s2disk_done', r'done \(\d+ pages\)')):
        mm = re.search(pat, con)
        lines[key] = mm.group(0).strip() if mm else None
    prov = {
        'sample': name,
        'arch': arch,
        'kernel_package': kmeta['package'],
        'kernel_package_version': kmeta['version'],
        'kernel_deb': kmeta['deb_filename'],
        'kernel_deb_sha256': kmeta['deb_sha256'],
        'kernel_loaded': os.path.relpath(kernel, kmeta['root']) if kernel == vmlinuz else
        'Image-%s (boot/vmlinuz-%s%s)' % (rel, rel, ', gunzipped' if open(vmlinuz, 'rb').read(2) == b'\x1f\x8b' else ', already uncompressed'),
        'kernel_loaded_sha256': sha256_file(kernel),
        'busybox': {'package': bbmeta['package'], 'version': bbmeta['version'],
                    'deb': bbmeta['deb'], 'deb_sha256': bbmeta['deb_sha256'],
                    'binary_sha256': sha256_file(bbmeta['path'])},
        'marker_build': marker_cc,
        'kernel_release': uname,
        'dbg_package': kmeta['dbg_filename'],
        'dbg_deb_sha256_from_archive_index': kmeta['dbg_sha256'],
        'system_map': 'systemmap/System.map-%s.xz' % rel,
        'system_map_sha256': hashlib.sha256(smap).hexdigest(),
        'kallsyms_matches_system_map': kallsyms_match,
        'kallsyms_checked': ks,
        'kallsyms_excerpt': {
            'file': 'kallsyms.txt.xz', 'lines_in_proc_kallsyms': kallsyms_lines,
            'every': KALLSYMS_EVERY, 'names': list(KALLSYMS_NAMES),
            'names_found': sorted({ln.split('\t', 1)[1].split()[2]
                                   for ln in kallsyms_text.splitlines()
                                   if not ln.startswith('#')} & set(KALLSYMS_NAMES))},
        'nokaslr': kaslr['nokaslr'],
        'kaslr': kaslr,
        'vmcoreinfo': vmcoreinfo,
        'kernel_cmdline': ev['cmdline.txt'].decode().strip(),
        'modules_insmod_order': modules,
        'guest_ram_mib': ram,
        'swap_disk_mib': SWAP_DISK_MIB,
        'qemu_version': qemu_version(arch),
        'qemu_command_hibernate': ' '.join(shlex.quote(c) for c in hcmd),
        'qemu_command_resume': ' '.join(shlex.quote(c) for c in rcmd),
        'qemu_seconds': {'hibernate': round(hsecs, 1), 'resume': round(rsecs, 1)},
        'date_utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'swap_img_xz_sha256': sha256_file(os.path.join(out, 'swap.img.xz')),
        'swap_img_xz_bytes': os.path.getsize(os.path.join(out, 'swap.img.xz')),
        'swap_img_sha256': img_sha,
        'swap_img_bytes': len(img),
        'swap_img_trimmed_from_bytes': SWAP_DISK_MIB << 20,
        'writer': writer,
        'uswsusp': None if uswsusp is None else {
            k: v if not isinstance(v, dict) else {'sha256': v['sha256']} for k, v in uswsusp.items()},
        'suspend_conf': suspend_conf(encrypt, rsa_key is not None) if uswsusp else None,
        'rsa_key': None if rsa_key is None else {
            'file': 'suspend.key', 'bits': RSA_KEY_BITS, 'sha256': hashlib.sha256(rsa_key).hexdigest(),
            'made_by': 'suspend-keygen (same build); answers: key bits, passphrase twice, file name'},
        'passphrase': USWSUSP_PASSPHRASE if encrypt else None,
        'on_disk': (uswsusp_on_disk_summary(img, ARCHES[arch]['long']) if uswsusp else
                    on_disk_summary(img, ARCHES[arch]['long'], page_size)),
        'page_size': page_size,
        'console_lines': lines,
        'resume_succeeded': resumed,
        'markers_after_resume': markers_after_resume,
        'expectation': sample['expect'],
    }
    with open(os.path.join(out, 'provenance.json'), 'w') as f:
        json.dump(prov, f, indent=1)
        f.write('\n')
    log('%s done: image %d bytes, resume %s' % (name, len(img), 'OK' if resumed else 'FAILED'))
    return prov


# --------------------------------------------------------------------------- README

def write_readme(samples_dir):
    rows = []
    for s in SAMPLES:
        d = os.path.join(samples_dir, s['name'])
        pp = os.path.join(d, 'provenance.json')
        if not os.path.exists(pp):
            continue
        rows.append((s, json.load(open(pp)), d))
    L = ['# Real-kernel hibernation samples', '',
         'Generated by `samples/generate.py` (do not edit by hand; the generator rewrites this file).',
         'Each sample is one hibernation of a stock Debian kernel under QEMU (TCG, 1 CPU): amd64 and',
         'i386 (`686-pae`, and `686` without PAE) kernels on `-machine pc` (`qemu-system-x86_64 -cpu qemu64`,',
         '`qemu-system-i386 -cpu qemu32`), arm64 on `qemu-system-aarch64 -machine virt -cpu cortex-a57`',
         '(`-cpu cortex-a76` for the 16 KiB-page kernel: the A57 has no 16K translation granule)',
         'with the uncompressed `Image` loaded directly (QEMU\'s PSCI firmware interface; no UEFI).',
         'The guest boots from a busybox initramfs (`guest/init.sh`, busybox-static of the guest\'s',
         'architecture) with an all-zero %d MiB virtio swap disk (`mkswap` in the guest) and a second'
         % SWAP_DISK_MIB,
         'virtio disk that receives the evidence as a raw tar (both `-drive if=virtio`, i.e. virtio-blk-pci;',
         'on arm64 virtio and virtio_ring are built in, the PCIe host is built in, the rest are modules).',
         'Before hibernating the guest sets `vm.compact_unevictable_allowed=0`, plants %d mlock()ed'
         % MARKER_PAGES,
         'marker pages (`guest/marker.c`, built static for the guest architecture), writes `0` to',
         '`/sys/power/image_size` and `shutdown` to `/sys/power/disk`; after the evidence is written it',
         'removes the loaded module files and the evidence copies from the tmpfs root and drops the',
         'page cache (`echo 3 > /proc/sys/vm/drop_caches`). A second boot of the same kernel resumes',
         'from a *copy* of the swap disk; the committed image is the untouched pre-resume disk. The',
         'generator refuses to write a sample whose resume did not bring back all marker pages intact',
         'at the same PFNs.', '',
         'Kernel command line: `console=ttyS0,115200 %s` (x86) or `console=ttyAMA0,115200 %s`'
         % (CMDLINE_REST, CMDLINE_REST),
         '(arm64), plus the per-sample extra. Samples booted with KASLR on, as distributions boot,',
         'drop `nokaslr` (`%s`); their provenance says `"nokaslr": false` and gives the offset.'
         % CMDLINE_REST_KASLR, '',
         'Guest RAM: 192 MiB on amd64 (with 128 MiB the 6.1 kernel could not preallocate the image,',
         '"Image allocation is ~3400 pages short"; with 160 MiB it hibernated but the resuming kernel',
         'failed with -ENOMEM while loading the image). 96 MiB on i386 (64 MiB hibernated, but the',
         'resuming kernel failed with -ENOMEM). 256 MiB on arm64: the Debian arm64 kernel reserves',
         '64 MiB for CMA (`CONFIG_CMA_SIZE_MBYTES=64`), which the image preallocation cannot use',
         '(192 MiB: 5616 pages short, 224 MiB: 1585 pages short); 384 MiB for the 16 KiB-page arm64',
         'kernel (256 MiB hibernated, but the resuming kernel failed with -ENOMEM). 256 MiB for sid\'s 7.2 (192 MiB',
         'hibernated, but the resuming kernel failed with -ENOMEM). The guest RAM hardly changes the image:',
         'it is dominated by the kernel\'s own text, rodata and data (i386: 96 and 128 MiB gave',
         'swap.img.xz within 0.2% of each other).', '',
         '## Files of each sample', '',
         '- `swap.img.xz`: the whole swap disk, trimmed after its last non-zero page (4096 bytes; 16 KiB',
         '  for the 16 KiB-page kernel; the disk started all zero), `xz -9e` (Python lzma preset 9|extreme).',
         '- `console.log`: serial console of the hibernating boot; `resume.log`: of the resuming boot.',
         '- `dmesg.txt`, `iomem.txt`, `memmap.txt` (`grep . /sys/firmware/memmap/*/*`; absent on arm64,',
         '  which has no firmware memmap), `cmdline.txt`: captured in the guest just before hibernating.',
         '- `kpageflags.bin.xz`: raw `/proc/kpageflags` (u64 per PFN from PFN 0; arm64 RAM starts at PFN',
         '  0x40000), after the markers were planted.',
         '- `markers.json`: marker page PFNs; content rule in `fill`, sha256 computed on the host from that rule.',
         '- `provenance.json`: packages, hashes, QEMU command lines, console key lines, resume result;',
         '  in samples made since the kallsyms excerpt was added also `nokaslr` (true/false), `kaslr`',
         '  (offset = kallsyms `_text` - System.map `_text`; arm64 without CONFIG_KALLSYMS_ALL lists no',
         '  `_text`: `_stext` there; 0 with `nokaslr`), `vmcoreinfo` (address and size, the note\'s key',
         '  values; `KERNELOFFSET` checked equal to the offset) and `kallsyms_excerpt`.',
         '- `vmcoreinfo.txt`: `/sys/kernel/vmcoreinfo` verbatim, `<physical address> <size>` in hex: where',
         '  the kernel\'s VMCOREINFO ELF note is, and the size reserved for it (`VMCOREINFO_NOTE_SIZE`).',
         '- `vmcoreinfo-note.txt`: the note\'s text (`vmcoreinfo_data`, `KEY=value` lines), copied from the',
         '  `VMCOREINFO` note of `/proc/kcore`\'s ELF header (its first %d KiB, read in the guest); the note'
         % (KCORE_HEAD_PAGES * 4),
         '  at that physical address wraps the same text.',
         '- `kallsyms.txt.xz`: an excerpt of the guest\'s `/proc/kallsyms` read as root (real addresses,',
         '  KASLR-slid when KASLR is on): a header with the file\'s line count, then `<0-based line',
         '  index>\\t<line>` for every line whose name is in the generator\'s `KALLSYMS_NAMES` and every',
         '  line whose index is a multiple of %d (a deterministic sample for checking a kallsyms' % KALLSYMS_EVERY,
         '  decoder: for core-kernel lines the index is the symbol\'s position in `kallsyms_names`).',
         '  The last four files exist only in samples generated since they were added.',
         '', '`systemmap/System.map-<release>.xz`: the real System.map of each kernel, streamed from the',
         'first file of the matching `linux-image-<release>-dbg` package (the image package only has a',
         'placeholder). With `nokaslr` the guest /proc/kallsyms matches it (checked: `kallsyms_matches_system_map`;',
         'the i386 and arm64 kernels lack CONFIG_KALLSYMS_ALL, so only text symbols are compared there);',
         'with KASLR it matches once the offset is added to every System.map address.',
         '', '## Samples', '']
    committed_maps = {p['system_map'] for s, p, d in rows if s.get('commit_image', True)}
    for s, p, d in rows:
        L += ['### `%s`' % s['name'], '',
              '- architecture: %s; QEMU: `%s`' % (p.get('arch', 'amd64'), ' '.join(
                  p['qemu_command_hibernate'].split(' -m ')[0].split()[:1] +
                  p['qemu_command_hibernate'].split(' -m ')[0].split()[3:]).replace(' -smp 1', '')),
              '- kernel: `%s` %s (`uname -r` = `%s`), deb sha256 `%s`; QEMU loads `%s`'
              % (p['kernel_package'], p['kernel_package_version'], p['kernel_release'], p['kernel_deb_sha256'],
                 p.get('kernel_loaded', 'boot/vmlinuz-' + p['kernel_release'])),
              '- command line: `%s`' % p['kernel_cmdline'],
              ] + ([
              '- KASLR: %s; offset %s (kallsyms `%s` 0x%s - System.map 0x%s)%s'
              % ('off (`nokaslr`)' if p['kaslr']['nokaslr'] else '**on**', p['kaslr']['offset_hex'],
                 p['kaslr']['symbol'], p['kaslr']['kallsyms'], p['kaslr']['system_map'],
                 '' if 'KERNELOFFSET' not in p['vmcoreinfo'].get('note_keys', {}) else
                 '; VMCOREINFO `KERNELOFFSET=%s`' % p['vmcoreinfo']['note_keys']['KERNELOFFSET']),
              '- VMCOREINFO: %s; kallsyms excerpt: %d of %d lines'
              % ('note at physical %s, %d bytes reserved (`vmcoreinfo.txt`)%s'
                 % (p['vmcoreinfo']['phys_addr_hex'], p['vmcoreinfo']['size'],
                    ', text %d bytes (`vmcoreinfo-note.txt`)' % p['vmcoreinfo']['note_bytes']
                    if p['vmcoreinfo']['note_file'] else '')
                 if p['vmcoreinfo']['sysfs'] else 'no /sys/kernel/vmcoreinfo in this kernel',
                 sum(1 for ln in lzma.decompress(open(os.path.join(d, 'kallsyms.txt.xz'), 'rb').read()
                                                 ).decode().splitlines() if not ln.startswith('#')),
                 p['kallsyms_excerpt']['lines_in_proc_kallsyms']),
              ] if 'kaslr' in p else []) + [
              '- expectation: %s' % {
                  'lzo': 'LZO-compressed chunks, flags SF_CRC32_MODE',
                  'nocompress': 'raw data pages, flags SF_NOCOMPRESS_MODE',
                  'lz4': 'LZ4 chunks (SF_COMPRESSION_ALG_LZ4 | SF_CRC32_MODE); PFN directory carries zero pages',
                  'uswsusp-lzo': 'written by s2disk (suspend-utils), not the kernel: ULSUSPEND header, '
                                 'image_header_info, extent map, LZO-compressed buffer blocks, MD5 '
                                 '(IMAGE_CHECKSUM | IMAGE_COMPRESSED)',
                  'uswsusp-lzo-rsa': 'as uswsusp-lzo-encrypted, in RSA mode: `RSA key file` made by '
                                     'suspend-keygen (`suspend.key`, %d bits, private half under the '
                                     'passphrase `%s`); the Blowfish key and IV are random, RSA-encrypted '
                                     'into the header (IMAGE_USE_RSA)' % (RSA_KEY_BITS, USWSUSP_PASSPHRASE),
                  'uswsusp-lzo-encrypted': 'as uswsusp-lzo, from an s2disk built --enable-encrypt '
                                           '(2432-byte image_header_info) with `encrypt = y`: data '
                                           'pages Blowfish-CFB encrypted under the passphrase `%s` '
                                           '(IMAGE_CHECKSUM | IMAGE_COMPRESSED | IMAGE_ENCRYPTED)'
                                           % USWSUSP_PASSPHRASE,
              }[s['expect']],
              '- guest RAM: %d MiB; swap disk %d MiB; modules: %s'
              % (p['guest_ram_mib'], p['swap_disk_mib'], ', '.join(p['modules_insmod_order'])),
              ] + (['- busybox: `%s` %s; marker: `%s`' % (p['busybox']['package'], p['busybox']['version'],
                                                          p['marker_build'])] if 'busybox' in p else []) + [
              '- console: `%s`; `%s`' % (p['console_lines']['image_created'],
                                          re.sub(r' \(press backspace.*?(done \(\d+ pages\))', r' ... \1',
                                                 p['console_lines']['image_data'] or '')),
              ] + ([
              '- s2disk and resume: %s @ `%s`, `./configure %s`, `%s`; s2disk sha256 `%s`; '
              '`/etc/suspend.conf`: `%s`' % (p['uswsusp']['repository'], p['uswsusp']['commit'],
                                              ' '.join(p['uswsusp']['configure']), p['uswsusp']['make'],
                                              p['uswsusp']['s2disk']['sha256'],
                                              '; '.join(p['suspend_conf'].splitlines())),
              ] if p.get('uswsusp') else []) + [
              '- trimmed image: %d bytes, sha256 `%s`' % (p['swap_img_bytes'], p['swap_img_sha256']),
              '- resume succeeded: %s (%s)' % (p['resume_succeeded'], p['markers_after_resume']),
              ('- on disk: signature `%(signature)s` (orig `%(orig_signature)s`); `image_header_info` at byte '
               '%(image_byte_offset)#x (swap page %(header_info_page)d): pages %(pages)d, flags %(flags)#x, '
               'map_start %(map_start)#x, image_data_size %(image_data_size)d, MD5 `%(checksum_md5)s`; '
               'trimmed file has %(trimmed_pages)d pages' % p['on_disk']) if p.get('writer') == 'uswsusp' else
              ('- on disk: signature `%(signature)s` (orig `%(orig_signature)s`), flags 0x%(flags)x, `image` = swap page '
              '%(image)d (swap pages 1..%(image_m1)d below it were used for ordinary pages swapped out while image memory was preallocated), '
              'swsusp_info at page %(swsusp_info_page)d (`unsigned long` = %(info_long_bytes)d bytes), %(swap_map_pages)d swap-map pages, %(map_entries)d map entries, '
              'highest %(max_map_entry)d; trimmed file has %(trimmed_pages)d pages, %(map_entries_beyond_trimmed_end)d map '
              'entries point past its end (all-zero pages, read them as zeros)' % dict(
                  p['on_disk'], image_m1=p['on_disk']['image'] - 1,
                  info_long_bytes=p['on_disk'].get('info_long_bytes', 8))),
              '- System.map: `%s`; QEMU: %s; generated %s' % (p['system_map'], p['qemu_version'], p['date_utc']),
              ] + ([] if s.get('commit_image', True) else [
                  '- **image not committed**: `swap.img.xz` (%d bytes) %s git-ignored to keep'
                  % (p['swap_img_xz_bytes'], 'is' if p['system_map'] in committed_maps
                     else 'and `%s` are' % p['system_map']),
                  '  samples/ under 40 MiB; the evidence is committed. Put the files listed here with',
                  '  their sha256 in place (or regenerate with `--only %s`, which rewrites the evidence'
                  % s['name'],
                  '  too) and the real-image tests run on this sample as on the others.',
              ]) + ['', '| file | bytes | sha256 |', '|---|---|---|']
        files = set(os.listdir(d)) | ({'swap.img.xz'} if not s.get('commit_image', True) else set())
        for fn in sorted(files):
            fp = os.path.join(d, fn)
            if fn == 'swap.img.xz' and not s.get('commit_image', True):
                L.append('| `%s` (not in git) | %d | `%s` |' % (fn, p['swap_img_xz_bytes'],
                                                               p['swap_img_xz_sha256']))
                continue
            L.append('| `%s` | %d | `%s` |' % (fn, os.path.getsize(fp), sha256_file(fp)))
        L.append('')
    smd = os.path.join(samples_dir, 'systemmap')
    if os.path.isdir(smd):
        L += ['### System.map files', '', '| file | bytes | sha256 |', '|---|---|---|']
        ignored = ({p['system_map'] for s, p, d in rows if not s.get('commit_image', True)}
                   - {p['system_map'] for s, p, d in rows if s.get('commit_image', True)})
        for fn in sorted(os.listdir(smd)):
            fp = os.path.join(smd, fn)
            note = ' (not in git)' if 'systemmap/' + fn in ignored else ''
            L.append('| `systemmap/%s`%s | %d | `%s` |' % (fn, note, os.path.getsize(fp), sha256_file(fp)))
        L.append('')
    L += ['## Regenerating', '',
          'As root on a Debian 12 amd64 host (network access to the Debian archive):', '',
          '```', 'apt-get update',
          'apt-get install qemu-system-x86 qemu-system-arm busybox-static xz-utils gcc libc6-dev \\',
          '    libc6-dev-i386 lib32gcc-12-dev gcc-12-aarch64-linux-gnu   # not gcc-multilib (conflicts)',
          'apt-get install autoconf automake libtool pkg-config liblzo2-dev libx86-dev libpci-dev \\',
          '    libgcrypt20-dev                                                # uswsusp samples',
          'git clone https://github.com/bircoph/suspend /some/suspend-utils  # uswsusp samples',
          'python3 samples/generate.py --work /some/scratch/dir --uswsusp-git /some/suspend-utils/.git',
          'python3 samples/generate.py --work /some/scratch/dir --only deb12-6.1-lzo', '```', '',
          'The uswsusp samples build suspend-utils (commit `%s`) from that repository: statically,'
          % USWSUSP['commit'],
          'for amd64, and for i386 with `gcc -m32` against liblzo2 (and libgcrypt, libgpg-error) of',
          'i386 extracted into a sysroot in the work directory. The sid sample reads sid\'s split',
          'kernel packages (`linux-binary-*`, `linux-modules-*`) through a temporary sources file.', '',
          'Downloads are cached in the work directory. Every run produces new images (addresses,',
          'timestamps and PFNs differ between runs), so the hashes above change; the kernel packages',
          'are the newest available at generation time unless the cached ones in --work are reused.',
          'The i386 and arm64 kernels and busybox-static come from those architectures\' package indexes,',
          'fetched with `apt-get -o APT::Architectures::=amd64 -o APT::Architectures::=<arch> update` (dpkg',
          'is not touched); a plain `apt-get update` afterwards drops them again. When the i386 sample was',
          'made, the security suite\'s i386 index failed to download (size mismatch while the mirror',
          'synced), so its kernel is the newest from the main suite. `--ram-mib N` overrides the guest',
          'RAM for trying sizes.', '']
    with open(os.path.join(samples_dir, 'README.md'), 'w') as f:
        f.write('\n'.join(L))
    write_gitignore(samples_dir, rows)


def write_gitignore(samples_dir, rows):
    """samples/.gitignore: the images (and System.maps) of samples whose image is not committed."""
    L = ['# Written by samples/generate.py: images kept out of git to hold samples/ under 40 MiB',
         '# (their evidence is committed; see README.md).']
    needed = {p['system_map'] for s, p, d in rows if s.get('commit_image', True)}
    for s, p, d in rows:
        if not s.get('commit_image', True):
            L.append('/%s/swap.img.xz' % s['name'])
            if p['system_map'] not in needed:  # a committed sample's System.map stays
                L.append('/%s' % p['system_map'])
                needed.add(p['system_map'])
    with open(os.path.join(samples_dir, '.gitignore'), 'w') as f:
        f.write('\n'.join(L) + '\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--work', required=True, help='scratch directory (downloads, disks, runs)')
    ap.add_argument('--only', action='append', help='sample name (repeatable)')
    ap.add_argument('--ram-mib', type=int, help='override the guest RAM (for trying sizes)')
    ap.add_argument('--readme-only', action='store_true', help='only rewrite samples/README.md')
    ap.add_argument('--uswsusp-git', help='git repository holding suspend-utils commit %s '
                    '(%s), for the uswsusp sample' % (USWSUSP['commit'][:12], USWSUSP['repository']))
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    names = [s['name'] for s in SAMPLES]
    for n in args.only or []:
        if n not in names:
            ap.error('unknown sample %s (known: %s)' % (n, ', '.join(names)))
    if not args.readme_only:
        if os.geteuid() != 0:
            ap.error('must run as root (apt-get, /proc/kpageflags in the guest is unaffected)')
        for s in SAMPLES:
            if args.only and s['name'] not in args.only:
                continue
            make_sample(args, s, HERE)
    write_readme(HERE)


if __name__ == '__main__':
    main()
