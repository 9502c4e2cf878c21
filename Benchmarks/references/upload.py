"""Upload benchmarks: `tus upload` next to curl and tuspy, over 127.0.0.1.

Run by Benchmarks/compare (its "Uploads" block); it can also run alone:

    python upload.py --tus .build/release/tus [--runs 3] [--work DIR] [--results FILE] [--pin]

With --pin the servers run on one CPU this process may use and every client
on another (taskset).

It starts two servers on free loopback ports, stopped when it ends:
`tus serve` (TusDevServer) and tuspyserver under uvicorn
(Tests/Servers/tuspyserver_app.py). Then, RUNS times, taking turns so that
every client sees the same load, it uploads a random 1 GiB file in 5 MiB
chunks:

- ours:  `tus upload FILE --endpoint URL --store json:FRESH --chunk-size 5MiB`,
         a fresh process and a fresh store each run, so a new upload each time;
         timed from start to exit, peak RSS from wait4;
- curl:  a POST (Upload-Length), then one PATCH of the whole file with
         `curl -T FILE`; timed from the POST to curl's exit;
- curl-chunks: a POST, then the PATCHes of 5 MiB ours sends, from one curl
         process on one connection (`curl -K`); timed the same way;
- tuspy: `TusClient(URL).uploader(FILE, chunk_size=5 MiB).upload()` in a fresh
         Python process; timed inside it, from TusClient() to upload()'s
         return (interpreter start and imports are not counted);

to the dev server (ours, curl, curl-chunks, tuspy, and ours with a 256 MiB file for the
cost growth) and to tuspyserver (ours, tuspy); who goes first turns from
round to round. Every run checks that the server stored exactly the file
(size and SHA-256), then deletes what the server stored and waits for the
kernel to be done with it (sync), so that no run pays for the one before.
Every run is one JSON line appended to --results (with the client's and the
server's CPU seconds and the client's peak RSS, read by /usr/bin/time); the
markdown rows (median of the runs; for memory, the largest) go to standard
output, progress to standard error.
"""
import argparse, hashlib, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
import http.client, urllib.parse

MiB = 1 << 20
# A row is marked "limit" only when ours is within this factor of what curl
# reaches with the same requests, either way: then two clients written apart
# hit the same ceiling. A client well above that curl shows that curl's rate
# bounds nothing, and the row is a miss.
LIMIT_BAND = 1.1
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TUSPY = r'''
import json, sys, time
from tusclient.client import TusClient
endpoint, path, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
uploader = TusClient(endpoint).uploader(path, chunk_size=chunk)
uploader.upload()
print(json.dumps({'elapsed': time.perf_counter() - start, 'url': uploader.url}))
'''


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU time of a running process, from /proc."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            block = f.read(4 * MiB)
            if not block:
                return digest.hexdigest()
            digest.update(block)


class Server:
    """A tus server in a child process, keeping uploads in `directory`."""

    def __init__(self, name, argv, directory, env=None, path='/files/'):
        self.name = name
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        port = free_port()
        self.endpoint = 'http://127.0.0.1:%d%s' % (port, path)
        self.log = open(os.path.join(os.path.dirname(directory), name + '.log'), 'w')
        self.process = subprocess.Popen(SERVER_CPU + [a.replace('{port}', str(port)) for a in argv], stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 30
        while True:
            try:
                self.request('OPTIONS', self.endpoint)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit('upload.py: %s did not start on %s (see %s)' % (name, self.endpoint, self.log.name))
                time.sleep(0.1)

    def request(self, method, url, headers=None):
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(method, parts.path, headers=headers or {})
            response = connection.getresponse()
            response.read()
            return response.status, response
        finally:
            connection.close()

    def create(self, length):
        status, response = self.request('POST', self.endpoint, {'Tus-Resumable': '1.0.0', 'Upload-Length': str(length)})
        if status != 201:
            raise SystemExit('upload.py: POST %s answered %d' % (self.endpoint, status))
        return urllib.parse.urljoin(self.endpoint, response.getheader('Location'))

    def stored(self, url):
        """The file holding the bytes of the upload at `url`."""
        upload_id = url.rstrip('/').rsplit('/', 1)[1]
        return os.path.join(self.directory, upload_id + ('.bin' if self.name == 'tus-serve' else ''))

    def clear(self):
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# CPU placement (--pin): the servers on one CPU, every client on another.
SERVER_CPU = []
CLIENT_CPU = []


def timed(argv, scratch):
    """Runs argv under /usr/bin/time; returns (wall seconds, stdout, peak RSS
    in bytes, CPU seconds). GNU time's own wait4 gives the child's peak RSS;
    this process's would count its own pages too (Linux carries a parent's
    high-water mark into a child it forks)."""
    report = os.path.join(scratch, 'time.out')
    start = time.perf_counter()
    child = subprocess.run(['/usr/bin/time', '-f', '%M %U %S', '-o', report] + CLIENT_CPU + argv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit('upload.py: %s failed (%d): %s' % (' '.join(argv[:2]), child.returncode,
                                                             child.stderr.decode(errors='replace')[-2000:]))
    with open(report) as f:
        peak_kib, user, system = f.read().split()[-3:]
    os.remove(report)
    return wall, child.stdout.decode(), int(peak_kib) * 1024, float(user) + float(system)


class Bench:
    def __init__(self, args):
        self.args = args
        self.results = open(args.results, 'a') if args.results else None
        self.hashes = {}
        self.chunks = {}

    def record(self, fields):
        line = json.dumps(fields)
        if self.results:
            self.results.write(line + '\n')
            self.results.flush()
        log('    ' + line)
        return fields

    def verify(self, server, url, path):
        stored = server.stored(url)
        size = os.path.getsize(path)
        if not os.path.exists(stored) or os.path.getsize(stored) != size:
            got = os.path.getsize(stored) if os.path.exists(stored) else 'no file'
            raise SystemExit('upload.py: %s stored %s bytes at %s, not %d' % (server.name, got, stored, size))
        if path not in self.hashes:
            self.hashes[path] = sha256_of(path)
        if sha256_of(stored) != self.hashes[path]:
            raise SystemExit('upload.py: %s stored other bytes than %s at %s' % (server.name, path, stored))
        return self.hashes[path]

    def chunk_files(self, path, chunk):
        """`path` cut into files of `chunk` bytes, made once."""
        key = (path, chunk)
        if key not in self.chunks:
            folder = os.path.join(self.args.work, 'chunks')
            os.makedirs(folder, exist_ok=True)
            pieces = []
            with open(path, 'rb') as source:
                while True:
                    block = source.read(chunk)
                    if not block:
                        break
                    piece = os.path.join(folder, '%05d' % len(pieces))
                    with open(piece, 'wb') as f:
                        f.write(block)
                    pieces.append(piece)
            self.chunks[key] = pieces
        return self.chunks[key]

    def warm_page_cache(self, server, size):
        """Writes and deletes `size` bytes beside the server's uploads, untimed.

        The virtual machines here hand memory that stayed unused back to the
        host (DAMON's `pageout`), and the first write into such a page waits
        for the host: writing 1 GiB into the page cache then takes anywhere
        from 0.16 s to 2.4 s. Pages just freed are taken first, so each timed
        upload writes into pages that are the guest's own, whoever uploads."""
        scratch = os.path.join(os.path.dirname(server.directory), 'warm.bin')
        block = bytes(8 * MiB)
        with open(scratch, 'wb') as f:
            for _ in range(0, size + 64 * MiB, len(block)):
                f.write(block)
        os.remove(scratch)

    def upload(self, client, server, path):
        """One timed upload; the server's files are deleted afterwards."""
        size = os.path.getsize(path)
        chunk = self.args.chunk_mib * MiB
        self.warm_page_cache(server, size)
        cpu_before = server.cpu()
        rss = None
        if client == 'ours':
            store = os.path.join(self.args.work, 'tus-store.json')
            if os.path.exists(store):
                os.remove(store)
            wall, out, rss, client_cpu = timed([self.args.tus, 'upload', path, '--endpoint', server.endpoint,
                                                '--store', 'json:' + store, '--chunk-size', str(chunk)], self.args.work)
            url = out.strip().splitlines()[-1]
            os.remove(store)
        elif client == 'curl':
            start = time.perf_counter()
            url = server.create(size)
            _, out, rss, client_cpu = timed(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PATCH',
                                            '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0',
                                            '-H', 'Content-Type: application/offset+octet-stream', '-T', path, url], self.args.work)
            wall = time.perf_counter() - start
            if out.strip() != '204':
                raise SystemExit('upload.py: curl PATCH %s answered %s' % (url, out.strip()))
        elif client == 'curl-chunks':
            # The requests `tus upload` sends, from curl: one PATCH per chunk,
            # one after the other on one connection, each waiting for its
            # answer. The chunks were cut into files beforehand (untimed).
            pieces = self.chunk_files(path, chunk)
            start = time.perf_counter()
            url = server.create(size)
            config = os.path.join(self.args.work, 'curl-chunks.conf')
            with open(config, 'w') as f:
                offset = 0
                for index, piece in enumerate(pieces):
                    if index:
                        f.write('next\n')
                    f.write('url = "%s"\nrequest = "PATCH"\nupload-file = "%s"\noutput = "/dev/null"\n'
                            'header = "Tus-Resumable: 1.0.0"\nheader = "Upload-Offset: %d"\n'
                            'header = "Content-Type: application/offset+octet-stream"\nheader = "Expect:"\n'
                            'write-out = "%%{http_code}\\n"\nsilent\nshow-error\n' % (url, piece, offset))
                    offset += os.path.getsize(piece)
            _, out, rss, client_cpu = timed(['curl', '-K', config], self.args.work)
            wall = time.perf_counter() - start
            codes = out.split()
            if len(codes) != len(pieces) or any(code != '204' for code in codes):
                raise SystemExit('upload.py: curl PATCHes to %s answered %s' % (url, ' '.join(sorted(set(codes)))))
        elif client == 'tuspy':
            _, out, rss, client_cpu = timed([self.args.python, '-c', TUSPY, server.endpoint, path, str(chunk)],
                                            self.args.work)
            answer = json.loads(out.strip().splitlines()[-1])
            wall, url = answer['elapsed'], answer['url']
        else:
            raise ValueError(client)
        server_cpu = server.cpu() - cpu_before
        digest = self.verify(server, url, path)
        server.clear()
        # Let the kernel finish with the deleted gigabyte (writeback, freeing
        # blocks) now rather than during the next, timed run.
        os.sync()
        time.sleep(0.2)
        return self.record({
            'workload': 'upload', 'server': server.name, 'backend': client, 'file_bytes': size,
            'chunk_bytes': chunk, 'bytes_per_s': round(size / wall, 1), 'seconds': round(wall, 3),
            'client_cpu_s': round(client_cpu, 3), 'server_cpu_s': round(server_cpu, 3),
            'peak_rss_bytes': rss, 'sha256': digest, 'verified': True})


def row(label, ours, reference, ratio, target, ok, shown):
    return '| %s | %s | %s | %.2f | %s | %s |' % (label, shown(ours), shown(reference), ratio, target,
                                                   'yes' if ok else 'MISSED')


def rate(value):
    return '%.0f MB/s' % (value / 1e6)


def mib(value):
    return '%.1f MiB' % (value / MiB)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tus', required=True, help='the tus executable (release build)')
    parser.add_argument('--python', default=sys.executable, help='a Python with tuspy, tuspyserver and uvicorn')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--work', help='scratch folder (default: a new temporary one)')
    parser.add_argument('--results', help='append every run, one JSON line each, to this file')
    parser.add_argument('--file', help='the file to upload, of --size-mib MiB (default: a new random one)')
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--small-mib', type=int, default=256)
    parser.add_argument('--chunk-mib', type=int, default=5)
    parser.add_argument('--only', default='devserver,tuspyserver,growth',
                        help='comma-separated: devserver, tuspyserver, growth')
    parser.add_argument('--pin', action='store_true',
                        help='run the servers on one CPU and every client on another (taskset)')
    args = parser.parse_args()
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit('upload.py: --pin needs two CPUs, and this process may use %d' % len(cpus))
        SERVER_CPU[:] = ['taskset', '-c', str(cpus[-1])]
        CLIENT_CPU[:] = ['taskset', '-c', str(cpus[0])]
    args.tus = os.path.abspath(args.tus)
    only = set(args.only.split(','))
    owned_work = args.work is None
    args.work = os.path.abspath(args.work or tempfile.mkdtemp(prefix='tus-upload-bench.'))
    work = os.path.join(args.work, 'uploads')
    os.makedirs(work, exist_ok=True)
    args.work = work
    bench = Bench(args)

    # SIGTERM and SIGINT end the run through `finally`, which stops the servers.
    def interrupted(number, frame):
        raise SystemExit(128 + number)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    servers = []
    files = []
    try:
        small = os.path.join(work, '%dMiB.bin' % args.small_mib)
        if args.file:
            big = os.path.abspath(args.file)
            if os.path.getsize(big) != args.size_mib * MiB:
                raise SystemExit('upload.py: %s does not hold %d MiB' % (big, args.size_mib))
            log('  making %s...' % os.path.basename(small))
            files += [small]
        else:
            big = os.path.join(work, '%dMiB.bin' % args.size_mib)
            log('  making %s and %s...' % (os.path.basename(big), os.path.basename(small)))
            files += [big, small]
            with open(big, 'wb') as f:
                for _ in range(args.size_mib):
                    f.write(os.urandom(MiB))
        with open(big, 'rb') as source, open(small, 'wb') as f:
            for _ in range(args.small_mib):
                f.write(source.read(MiB))

        dev = Server('tus-serve', [args.tus, 'serve', '--dir', os.path.join(work, 'tus-serve-files'), '--port', '{port}'],
                     os.path.join(work, 'tus-serve-files'))
        servers.append(dev)
        tps = None
        if 'tuspyserver' in only:
            tps_dir = os.path.join(work, 'tuspyserver-files')
            tps = Server('tuspyserver', [args.python, '-m', 'uvicorn', '--app-dir', os.path.join(ROOT, 'Tests', 'Servers'),
                                         'tuspyserver_app:app', '--host', '127.0.0.1', '--port', '{port}',
                                         '--log-level', 'warning'],
                         tps_dir, env={'TUS_FILES_DIR': tps_dir})
            servers.append(tps)

        runs = {}
        def keep(key, fields):
            runs.setdefault(key, []).append(fields)

        # Each round, every upload of a workload once; who goes first turns
        # from round to round.
        plan = []
        if 'devserver' in only:
            plan.append([('dev-ours', 'ours', dev, big), ('dev-curl', 'curl', dev, big),
                         ('dev-curl-chunks', 'curl-chunks', dev, big), ('dev-tuspy', 'tuspy', dev, big)])
        if 'growth' in only:
            if 'devserver' not in only:
                plan.append([('dev-ours', 'ours', dev, big)])
            plan.append([('dev-ours-small', 'ours', dev, small)])
        if tps:
            plan.append([('tps-ours', 'ours', tps, big), ('tps-tuspy', 'tuspy', tps, big)])
        for n in range(args.runs):
            log('  uploads, round %d of %d...' % (n + 1, args.runs))
            for turns in plan:
                start = n % len(turns)
                for key, client, server, path in turns[start:] + turns[:start]:
                    keep(key, bench.upload(client, server, path))

        def median(key, field='bytes_per_s'):
            return statistics.median(r[field] for r in runs[key])

        size = '%s' % ('1 GiB' if args.size_mib == 1024 else '%d MiB' % args.size_mib)
        chunk = '%d MiB chunks' % args.chunk_mib
        rows = []
        notes = []
        if 'devserver' in only:
            ours, curl, tuspy = median('dev-ours'), median('dev-curl'), median('dev-tuspy')
            chunks = median('dev-curl-chunks')

            def against(label, reference, target):
                """A row of ours against `reference`; "limit" when curl sending
                the same requests as ours misses the target too, and ours
                reaches what that curl reaches, give or take LIMIT_BAND."""
                ratio = ours / reference
                ok = 'yes' if ratio >= target else 'MISSED'
                if ratio < target:
                    if chunks / reference < target and 1 / LIMIT_BAND <= ours / chunks <= LIMIT_BAND:
                        ok = 'limit'
                    notes.append(
                        '- %s: the target asks for %s; curl sending the same %s PATCHes, one after the '
                        'other on one connection, reaches %s (%.2f× the reference), and ours %.0f %% of that.'
                        % (label, rate(target * reference), chunk.replace(' chunks', ''), rate(chunks),
                           chunks / reference, ours / chunks * 100))
                return '| %s | %s | %s | %.2f | ≥%g | %s |' % (label, rate(ours), rate(reference), ratio, target, ok)

            rows.append(against('Upload %s to tus serve, %s (vs curl, one PATCH)' % (size, chunk), curl, 0.8))
            rows.append(against('Upload %s to tus serve, %s (vs tuspy)' % (size, chunk), tuspy, 2))
        if tps:
            ours, tuspy = median('tps-ours'), median('tps-tuspy')
            rows.append(row('Upload %s to tuspyserver, %s (vs tuspy)' % (size, chunk), ours, tuspy,
                            ours / tuspy, '≥1', ours / tuspy >= 1, rate))
        if 'dev-ours' in runs:
            peak = max(r['peak_rss_bytes'] for key in ('dev-ours', 'tps-ours') for r in runs.get(key, []))
            bound = (args.chunk_mib + 64) * MiB
            rows.append(row('Peak RSS of tus upload, %s, %s (vs chunk + 64 MiB)' % (size, chunk), peak, bound,
                            peak / bound, '≤1', peak <= bound, mib))
        if 'growth' in only:
            large, smaller = median('dev-ours'), median('dev-ours-small')
            rows.append(row('Upload cost growth: bytes/s at %s vs %d MiB (tus serve)' % (size, args.small_mib),
                            large, smaller, large / smaller, '≥0.8', large / smaller >= 0.8, rate))
        print('\n'.join(rows + notes), flush=True)
    finally:
        for server in reversed(servers):
            server.stop()
        for path in files:
            if os.path.exists(path):
                os.remove(path)
        for name in ('tus-serve-files', 'tuspyserver-files', 'chunks'):
            shutil.rmtree(os.path.join(work, name), ignore_errors=True)
        if owned_work:
            shutil.rmtree(os.path.dirname(work), ignore_errors=True)


if __name__ == '__main__':
    main()
