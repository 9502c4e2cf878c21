"""Upload benchmarks: `tus upload` next to curl and tuspy, over 127.0.0.1,
over a slow link and over HTTPS.

Run by Benchmarks/compare (its "Uploads" block); it can also run alone:

    python upload.py --tus .build/release/tus [--relay .build/release/test-relay]
                     [--nio-server .build/release/nio-resumable-upload-server]
                     [--runs 3] [--work DIR] [--results FILE] [--pin]
                     [--baseline-tus OTHER/tus --baseline-label NAME]
                     [--only devserver,tuspyserver,growth,relay,https,parallel,capped,files,draft-nio,draft-serve]

With --baseline-tus, another build of tus (an older commit's, say) takes its
turn beside ours uploading to tus serve over loopback, through the relay and
over HTTPS, and a row per workload compares ours's client CPU per GiB with
that build's (target: within 3 %): what a change between the two costs.

With --pin the servers, the relays and nginx run on one CPU this process may
use and every client on another (taskset).

It starts two servers on free loopback ports, stopped when it ends:
`tus serve` (TusDevServer) and tuspyserver under uvicorn
(Tests/Servers/tuspyserver_app.py); in front of each a `test-relay
--round-trip-ms 40` (Tests/RelayCommand, a 40 ms round trip: each direction
delayed by 20 ms); in front of `tus serve` a second relay that also caps
each connection, on its own, at 200 Mbit/s (`--rate 25000000`;
--capped-mbit); and in front of `tus serve` an nginx with TLS (a private
CA and a certificate for IP:127.0.0.1 made with openssl in the work folder,
TLS 1.3 only with the one cipher suite TLS_AES_128_GCM_SHA256, so that every
client does the same cryptography; bodies streamed both ways). Then, RUNS
times, taking turns so that every client of a workload sees the same load,
it uploads:

- over loopback, a random 1 GiB file in 5 MiB chunks, and with each
  client's defaults (ours: request sizes that adapt; tuspy: one PATCH);
- over the relays, the first 64 MiB of it, with default request sizes;
- through nginx over HTTPS, the 1 GiB file, with default request sizes;
- through the relay to `tus serve`, the first 256 MiB of it in 4 parts at
  once (`--parallel 4`, default request sizes), next to curl's one PATCH
  (and ours in one upload, for the notes);
- the same through the relay that caps each connection: there a connection
  cannot go faster however large its window, and parts add up;
- through the relay to `tus serve`, 100 files of 1 MiB (cut from it), 8 at
  once (`--jobs 8`, one process), next to tuspy uploading them one after
  another in one process;
- with the IETF draft (interop version 6), the first 64 MiB through a relay
  to Apple's NIOResumableUpload (`nio-resumable-upload-server`, --nio-server,
  started on a port chosen beforehand with `--origin` the relay's, since it
  gives each upload an absolute URL of that origin: so every request of an
  upload goes through the relay) and through the relay to `tus serve`, each
  next to ours in tus 1.0 to `tus serve` through its relay and to curl's one
  POST of the whole file in the draft. `tus serve` gets a creation request
  in the draft first: unless it answers 104 or 2xx (it answers tus 1.0's
  412 until it speaks the draft), its draft rows say "skipped", with a note,
  and are not run.

The clients:

- ours:  `tus upload FILE --endpoint URL --store json:FRESH --chunk-size 5MiB`
         (loopback), or `tus upload FILE --endpoint URL --no-store` with no
         --chunk-size, so request sizes adapt (relay, HTTPS; with --cacert
         CA.pem for HTTPS; and over loopback too, against tuspy's defaults); a fresh process each run, so a new upload each
         time; timed from start to exit, peak RSS from wait4;
- curl:  a POST (Upload-Length, from this process), then one PATCH of the
         whole file with `curl -T FILE`; timed from the POST to curl's exit.
         Over the relay and HTTPS it is sent without `Expect: 100-continue`
         (`-H 'Expect:'`), as curl-chunks always is: ours never waits for a
         100 Continue, and over the relay that wait is a 40 ms round trip;
- curl-chunks: a POST, then the PATCHes of 5 MiB ours sends, from one curl
         process on one connection (`curl -K`); timed the same way;
- tuspy: `TusClient(URL).uploader(FILE).upload()` in a fresh Python
         process, tuspy's defaults: chunk_size is sys.maxsize in tuspy
         1.1.0 (tus-js-client's chunkSize is Infinity), so a POST, then one
         PATCH of the whole file, read into memory first; timed inside it,
         from TusClient() to upload()'s return (interpreter start and
         imports are not counted);
- tuspy-chunks: tuspy in its chunked mode,
         `TusClient(URL).uploader(FILE, chunk_size=5 MiB).upload()`, a PATCH
         per 5 MiB, each waiting for its answer; timed the same way;
- ours-parallel: `tus upload FILE --endpoint URL --no-store --parallel 4`,
         timed like ours; the server keeps the 4 parts and the final upload
         that joins them, whose bytes are checked;
- ours-jobs: `tus upload FILE1 ... FILE100 --endpoint URL --no-store --jobs 8`,
         one process, timed like ours; it prints `PATH<TAB>URL` per file;
- ours-ietf, ours-tus: `tus upload FILE --endpoint URL --no-store
         --protocol ietf` (or `tus`), timed like ours;
- curl-draft: one POST of the whole file with `curl -T FILE -X POST` (to
         the endpoint without a trailing /, which curl would fill with the
         file's name),
         `Upload-Draft-Interop-Version: 6`, `Upload-Complete: ?1` and no
         `Expect`, timed from curl's start to its exit;
- tuspy-files: one Python process looping
         `TusClient(URL).uploader(FILE).upload()` (tuspy's defaults: a POST
         and one PATCH a file) over the 100 files, timed inside it from the
         first TusClient() to the last upload()'s return;

to the dev server over loopback (ours, curl, curl-chunks, tuspy,
tuspy-chunks, and ours with a 256 MiB file for the cost growth), to
tuspyserver over loopback (ours, tuspy, tuspy-chunks, curl), to each server
through its relay (ours, curl, tuspy, tuspy-chunks), to the dev server
through nginx (ours, curl), to the dev server through its relay and through
the capped relay in parts (ours-parallel, curl, and ours in one upload) and
as many files through its relay (ours-jobs, tuspy-files);
and one byte to the dev server, over
loopback and through its relay (ours with default options, curl, tuspy
through the relay): what an upload costs each client whatever its size, for
the notes on rows that miss. Who goes first turns from round to round.
Every run checks that the server stored exactly the file (size and
SHA-256; with --parallel, the final upload; with many files, every file),
counts the uploads the server holds (4 parts and a final one for
--parallel 4, one a file otherwise), then deletes what the server stored and waits for the kernel to be
done with it (sync), so that no run pays for the one before.
Every run is one JSON line appended to --results (with the client's CPU
seconds, user + system, from wait4 of /usr/bin/time less what /usr/bin/time
and taskset cost; the server's, from /proc; the client's peak RSS, read by
/usr/bin/time; for HTTPS, the requests nginx logged and the TLS version and
cipher); the markdown rows (median of the runs; for memory, the largest) go to standard
output, progress to standard error. Every upload row shows, beside each
rate, that client's CPU time (user + system) per GiB uploaded, and every
workload with a curl run has a row comparing the CPU per GiB of ours with
curl's.

tuspy has two rows wherever it runs: with its defaults (one PATCH), against
ours with its defaults (target: ours at least its rate over loopback, 0.9
through the relays, where both sit at curl's floor; see
TUSPY_DEFAULTS_TARGET), and in its chunked mode (5 MiB chunks), against ours
in the same chunks over loopback and with its defaults through the relays
(target 2 to tus serve over loopback and through the relays, 1 to
tuspyserver over loopback, which sets the pace for both).
"""
import argparse, hashlib, json, os, select, shutil, signal, socket, ssl, statistics, subprocess, sys, tempfile, time
import http.client, urllib.parse

MiB = 1 << 20
GiB = 1 << 30
# A row is marked "limit" only when ours is within this factor of what curl
# reaches with the same requests, either way: then two clients written apart
# hit the same ceiling. A client well above that curl shows that curl's rate
# bounds nothing, and the row is a miss.
LIMIT_BAND = 1.1
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# tuspy uploading one file; CHUNK 0 leaves tuspy its defaults (chunk_size
# sys.maxsize: one PATCH of the whole file, read into memory first).
TUSPY = r'''
import json, sys, time
from tusclient.client import TusClient
endpoint, path, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
uploader = TusClient(endpoint).uploader(path, **({'chunk_size': chunk} if chunk else {}))
uploader.upload()
print(json.dumps({'elapsed': time.perf_counter() - start, 'url': uploader.url}))
'''

# tuspy uploading many files one after another, in one process (CHUNK 0:
# its defaults, as above).
TUSPY_FILES = r'''
import json, sys, time
from tusclient.client import TusClient
endpoint, chunk, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
urls = []
start = time.perf_counter()
for path in paths:
    uploader = TusClient(endpoint).uploader(path, **({'chunk_size': chunk} if chunk else {}))
    uploader.upload()
    urls.append(uploader.url)
print(json.dumps({'elapsed': time.perf_counter() - start, 'urls': urls}))
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


def http_request(method, url, headers=None, cacert=None):
    """One request on a new connection; returns (status, response), the body read."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == 'https':
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30,
                                                 context=ssl.create_default_context(cafile=cacert))
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, parts.path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response
    finally:
        connection.close()


class Server:
    """A tus server in a child process, keeping uploads in `directory`."""

    def __init__(self, name, argv, directory, env=None, path='/files/', port=None):
        self.name = name
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        port = port or free_port()
        self.endpoint = 'http://127.0.0.1:%d%s' % (port, path)
        self.log = open(os.path.join(os.path.dirname(directory), name + '.log'), 'w')
        self.process = subprocess.Popen(SERVER_CPU + [a.replace('{port}', str(port)) for a in argv], stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 30
        while True:
            try:
                http_request('OPTIONS', self.endpoint)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit('upload.py: %s did not start on %s (see %s)' % (name, self.endpoint, self.log.name))
                time.sleep(0.1)

    def stored(self, url):
        """The file holding the bytes of the upload at `url`."""
        upload_id = url.rstrip('/').rsplit('/', 1)[1]
        return os.path.join(self.directory, upload_id + ('.bin' if self.name == 'tus-serve' else ''))

    def uploads(self):
        """How many uploads `tus serve` holds (one `ID.info` file each);
        None for another server."""
        if self.name != 'tus-serve':
            return None
        return sum(1 for name in os.listdir(self.directory) if name.endswith('.info') and not name.startswith('.'))

    def join_seconds(self, url):
        """For a final upload of `tus serve` at `url`: the time from the last
        write into any other upload (its parts) to the last write into the
        final upload, from the data files' modification times: how long the
        server took to join the parts, at most (it counts the final POST's
        way through the relay, half a round trip)."""
        final = self.stored(url)
        others = [os.path.join(self.directory, name) for name in os.listdir(self.directory)
                  if name.endswith('.bin') and not name.startswith('.')
                  and os.path.join(self.directory, name) != final]
        if not others:
            return None
        return round((os.stat(final).st_mtime_ns - max(os.stat(p).st_mtime_ns for p in others)) / 1e9, 3)

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


class Route:
    """How a client reaches a server: `link` is "loopback", "relay" or
    "https"; `endpoint` is the creation URL on that route; `cacert` the CA
    to trust for HTTPS; `nginx` the proxy on the way, if any. With `named`,
    each upload goes to `endpoint` followed by a name of its own, and the
    server stores it under that name (nio-resumable-upload-server's
    /uploads/NAME), not under the upload URL it gives."""

    def __init__(self, server, link, endpoint, cacert=None, nginx=None, relay=None, named=False):
        self.server = server
        self.link = link
        self.endpoint = endpoint
        self.cacert = cacert
        self.nginx = nginx
        self.relay = relay
        self.named = named

    def relay_cpu(self):
        """CPU seconds of the relay on the way so far, or None."""
        return cpu_seconds(self.relay.process.pid) if self.relay else None

    def create(self, length):
        status, response = http_request('POST', self.endpoint, {'Tus-Resumable': '1.0.0', 'Upload-Length': str(length)},
                                        self.cacert)
        if status != 201:
            raise SystemExit('upload.py: POST %s answered %d' % (self.endpoint, status))
        return urllib.parse.urljoin(self.endpoint, response.getheader('Location'))


class Helper:
    """A child process in front of a server (a relay, nginx), stopped by stop()."""

    process = None
    log = None

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()


class Relay(Helper):
    """`test-relay --to SERVER --round-trip-ms MS` in front of `server`, on
    the loopback port it picks and prints; with `rate`, `--rate BYTES` too:
    each connection carries at most that many bytes a second toward the
    server, on its own (n connections at once carry up to n times it)."""

    def __init__(self, executable, server, round_trip_ms, folder, rate=None, upstream=None):
        """With `upstream` (name, endpoint) instead of `server` (None), a
        relay toward a server that is not started yet: call probe() once it
        is."""
        name, endpoint = upstream if upstream else (server.name, server.endpoint)
        parts = urllib.parse.urlsplit(endpoint)
        self.log = open(os.path.join(folder, 'relay-%s%s.log' % (name, '-rate-%d' % rate if rate else '')), 'w')
        self.process = subprocess.Popen(SERVER_CPU + [executable, '--to', '%s:%d' % (parts.hostname, parts.port),
                                                      '--round-trip-ms', str(round_trip_ms)]
                                        + (['--rate', str(rate)] if rate else []),
                                        stdout=subprocess.PIPE, stderr=self.log)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline().decode().strip() if ready else ''
        if not line.isdigit():
            self.stop()
            raise SystemExit('upload.py: test-relay to %s did not start (see %s)' % (endpoint, self.log.name))
        self.port = int(line)
        self.origin = 'http://127.0.0.1:%d' % self.port
        self.endpoint = self.origin + parts.path
        if not upstream:
            self.probe()

    def probe(self):
        """One request through the relay to the server."""
        http_request('OPTIONS', self.endpoint)


def draft_answers(endpoint):
    """The answers to a draft creation request (interop version 6, an empty
    complete upload, no Tus-Resumable) sent to `endpoint` on a connection of
    its own: a list of (status, headers), the interim answers (such as
    104) first, the final one last; ends early if the server closes. Sent by
    hand, since http.client takes a 104 for the final answer."""
    parts = urllib.parse.urlsplit(endpoint)
    request = ('POST %s HTTP/1.1\r\nHost: %s:%d\r\nUpload-Draft-Interop-Version: 6\r\nUpload-Complete: ?1\r\n'
               'Content-Length: 0\r\nConnection: close\r\n\r\n' % (parts.path, parts.hostname, parts.port))
    answers = []
    data = b''
    with socket.create_connection((parts.hostname, parts.port), 10) as connection:
        connection.settimeout(10)
        connection.sendall(request.encode())
        while True:
            end = data.find(b'\r\n\r\n')
            if end < 0:
                more = connection.recv(65536)
                if not more:
                    return answers
                data += more
                continue
            head, data = data[:end].decode('latin-1'), data[end + 4:]
            lines = head.split('\r\n')
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(':')
                headers[name.strip().lower()] = value.strip()
            answers.append((status, headers))
            if status >= 200:
                return answers


def speaks_draft(endpoint):
    """(True, what it answered) when the server at `endpoint` takes a draft
    creation request (a 104 or a 2xx); (False, what it answered) otherwise,
    such as tus 1.0's 412 for a request without Tus-Resumable."""
    try:
        answers = draft_answers(endpoint)
    except OSError as error:
        return False, 'no answer (%s)' % error
    if not answers:
        return False, 'no answer (the connection closed)'
    said = ', then '.join('%d%s' % (status, ' with Tus-Version: %s' % headers['tus-version'] if 'tus-version' in headers
                                    else '') for status, headers in answers)
    speaks = any(status == 104 or 200 <= status < 300 for status, _ in answers)
    return speaks, said


# nginx in front of `tus serve`, as Tests/TusTestSupport/Nginx.swift sets it
# up: one process in the foreground, every path in its folder, bodies
# streamed both ways, the client's Host passed on (the dev server builds
# Location from it) and the dev server's http:// Location turned into the
# scheme the client used. The access log names each request's method,
# status, length (head and body) and TLS version and cipher. TLS 1.3 only,
# with the one cipher suite TLS_CIPHER.
TLS_CIPHER = 'TLS_AES_128_GCM_SHA256'
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid "{folder}/nginx.pid";
error_log "{folder}/error.log" warn;

events {{
    worker_connections 256;
}}

http {{
    log_format bench '$request_method $status $request_length $ssl_protocol $ssl_cipher';
    access_log "{folder}/access.log" bench;
    client_body_temp_path "{folder}/client_body";
    proxy_temp_path "{folder}/proxy";
    fastcgi_temp_path "{folder}/fastcgi";
    uwsgi_temp_path "{folder}/uwsgi";
    scgi_temp_path "{folder}/scgi";

    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate "{folder}/server.pem";
        ssl_certificate_key "{folder}/server.key";
        # One protocol and one cipher suite for every client, so that the
        # clients compared do the same cryptography: left to choose, ours
        # (BoringSSL) agrees on TLS_AES_128_GCM_SHA256 and curl (OpenSSL)
        # on TLS_AES_256_GCM_SHA384. nginx passes the command to OpenSSL
        # (1.1.1 or later).
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites {cipher};
        client_max_body_size 0;

        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_redirect http://$http_host/ https://$http_host/;
        }}
    }}
}}
"""


def make_certificates(folder):
    """A private CA (ca.pem) and a certificate it signed for IP:127.0.0.1
    (server.pem, server.key), P-256 keys, with openssl."""
    openssl = shutil.which('openssl')
    if not openssl:
        raise SystemExit('upload.py: openssl is not installed (scripts/setup --test installs it)')

    def run(*argv):
        done = subprocess.run([openssl] + list(argv), cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise SystemExit('upload.py: openssl %s failed: %s' % (argv[0], done.stdout.decode(errors='replace')))

    with open(os.path.join(folder, 'server.ext'), 'w') as f:
        f.write('basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n'
                'extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n')
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key',
        '-out', 'ca.pem', '-days', '7', '-subj', '/CN=swift-tus benchmark CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key',
        '-out', 'server.csr', '-subj', '/CN=127.0.0.1')
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', 'server.pem', '-days', '7', '-extfile', 'server.ext')
    return os.path.join(folder, 'ca.pem')


class Nginx(Helper):
    """nginx with TLS in front of `server`, on a free loopback port."""

    def __init__(self, executable, server, folder):
        os.makedirs(folder, exist_ok=True)
        self.cacert = make_certificates(folder)
        parts = urllib.parse.urlsplit(server.endpoint)
        port = free_port()
        conf = os.path.join(folder, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF.format(folder=folder, port=port, upstream='%s:%d' % (parts.hostname, parts.port),
                                      cipher=TLS_CIPHER))
        self.access_log = os.path.join(folder, 'access.log')
        self.log = open(os.path.join(folder, 'output.log'), 'w')
        # -e: the log nginx writes before it has read the configuration,
        # which would otherwise be under /var/log.
        self.process = subprocess.Popen(SERVER_CPU + [executable, '-e', os.path.join(folder, 'error.log'),
                                                      '-p', folder + '/', '-c', conf],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.endpoint = 'https://127.0.0.1:%d%s' % (port, parts.path)
        deadline = time.monotonic() + 30
        while True:
            try:
                http_request('OPTIONS', self.endpoint, cacert=self.cacert)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit('upload.py: nginx did not start on %s (see %s)'
                                     % (self.endpoint, os.path.join(folder, 'error.log')))
                time.sleep(0.1)

    def mark(self):
        """Where the access log ends now, for requests() after a run."""
        return os.path.getsize(self.access_log) if os.path.exists(self.access_log) else 0

    def requests(self, since):
        """The requests logged after `since`: (method, status, length, protocol, cipher)."""
        with open(self.access_log) as f:
            f.seek(since)
            return [tuple(line.split()) for line in f if line.strip()]


# CPU placement (--pin): the servers on one CPU, every client on another.
SERVER_CPU = []
CLIENT_CPU = []


# CPU seconds that /usr/bin/time and taskset themselves cost around a client
# (about 2.5 ms here), measured once by measure_harness() and taken off every
# client's CPU time: over 64 MiB they would add 0.04 s per GiB to every
# client.
HARNESS_CPU = [0.0]


def run_timed(argv, scratch):
    """Runs argv under /usr/bin/time (and CLIENT_CPU); returns (wall seconds,
    return code, stdout, stderr, peak RSS in bytes, CPU seconds).

    GNU time's own wait4 gives the child's peak RSS; this process's would
    count its own pages too (Linux carries a parent's high-water mark into a
    child it forks). The CPU time is this process's wait4 of /usr/bin/time,
    which holds the child's it reaped, in microseconds: GNU time prints it
    in hundredths of a second, too coarse for a 64 MiB upload (curl: about
    0.01 s)."""
    report = os.path.join(scratch, 'time.out')
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(['/usr/bin/time', '-f', '%M', '-o', report] + CLIENT_CPU + argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    with open(report) as f:
        peak_kib = f.read().split()[-1]
    os.remove(report)
    return wall, child.returncode, stdout, stderr, int(peak_kib) * 1024, usage.ru_utime + usage.ru_stime


def measure_harness(scratch):
    """The median CPU time of /usr/bin/time and taskset around `true`."""
    HARNESS_CPU[0] = statistics.median(run_timed(['true'], scratch)[5] for _ in range(21))
    return HARNESS_CPU[0]


def timed(argv, scratch):
    """Runs argv under /usr/bin/time; returns (wall seconds, stdout, peak RSS
    in bytes, client CPU seconds, without the harness's)."""
    wall, code, stdout, stderr, rss, cpu = run_timed(argv, scratch)
    if code != 0:
        raise SystemExit('upload.py: %s failed (%d): %s' % (' '.join(argv[:2]), code,
                                                             stderr.decode(errors='replace')[-2000:]))
    return wall, stdout.decode(), rss, max(cpu - HARNESS_CPU[0], 0.0)


class Bench:
    def __init__(self, args):
        self.args = args
        self.results = open(args.results, 'a') if args.results else None
        self.hashes = {}
        self.chunks = {}
        self.named = 0

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

    def upload(self, client, route, path, sizes='chunks', written=1):
        """One timed upload over `route`; the server's files are deleted
        afterwards. With `sizes` "chunks" ours sends --chunk-size 5 MiB
        PATCHes and keeps a fresh store; with "default" it sends what its
        default options choose, and stores nothing (--no-store). `written`:
        how many times the server may write the file's bytes (2 for
        --parallel: the parts, then the final upload), for the warm-up."""
        server = route.server
        size = os.path.getsize(path)
        chunk = self.args.chunk_mib * MiB
        self.warm_page_cache(server, size * written)
        logged = route.nginx.mark() if route.nginx else None
        cpu_before = server.cpu()
        relay_before = route.relay_cpu()
        rss = None
        tls = ['--cacert', route.cacert] if route.cacert else []
        # Where the upload is created; on a named route, a name of its own.
        endpoint = route.endpoint
        if route.named:
            self.named += 1
            endpoint = '%sbench-%d.bin' % (route.endpoint, self.named)
        if client in ('ours', 'ours-parallel', 'baseline'):
            executable = self.args.baseline_tus if client == 'baseline' else self.args.tus
            if client == 'ours-parallel':
                store = None
                options = ['--no-store', '--parallel', str(self.args.parallel)]
            elif sizes == 'chunks':
                store = os.path.join(self.args.work, 'tus-store.json')
                if os.path.exists(store):
                    os.remove(store)
                options = ['--store', 'json:' + store, '--chunk-size', str(chunk)]
            else:
                store = None
                options = ['--no-store']
            wall, out, rss, client_cpu = timed([executable, 'upload', path, '--endpoint', endpoint]
                                               + options + tls, self.args.work)
            url = out.strip().splitlines()[-1]
            if store:
                os.remove(store)
        elif client in ('ours-ietf', 'ours-tus'):
            # Ours in the one protocol named, whatever the server would let
            # --protocol auto pick, with default request sizes and no store.
            wall, out, rss, client_cpu = timed([self.args.tus, 'upload', path, '--endpoint', endpoint, '--no-store',
                                                '--protocol', 'ietf' if client == 'ours-ietf' else 'tus'] + tls,
                                               self.args.work)
            url = out.strip().splitlines()[-1]
        elif client == 'curl-draft':
            # The draft's single request: the whole file in one POST with
            # Upload-Complete: ?1 (the server may answer 104 first, which
            # curl passes over), without Expect: 100-continue, as over the
            # relay for tus 1.0. Timed from curl's start to its exit.
            answered = os.path.join(self.args.work, 'curl-draft.headers')
            wall, out, rss, client_cpu = timed(['curl', '-sS', '-o', '/dev/null', '-D', answered, '-w', '%{http_code}',
                                                '-X', 'POST', '-H', 'Upload-Draft-Interop-Version: 6',
                                                '-H', 'Upload-Complete: ?1', '-H', 'Expect:'] + tls
                                               # -T appends the file's name to a URL ending in /: tus serve
                                               # takes its endpoint without it. (--data-binary would read
                                               # the whole file into memory first.)
                                               + ['-T', path, endpoint.rstrip('/')], self.args.work)
            if not out.strip().startswith('2'):
                raise SystemExit('upload.py: curl POST %s answered %s' % (endpoint, out.strip()))
            # The upload's URL: the final answer's Location.
            with open(answered, 'rb') as f:
                final = f.read().decode('latin-1').strip().split('\r\n\r\n')[-1]
            os.remove(answered)
            location = [line.split(':', 1)[1].strip() for line in final.split('\r\n')
                        if line.lower().startswith('location:')]
            url = urllib.parse.urljoin(endpoint, location[0]) if location else endpoint
        elif client == 'curl':
            # On loopback, as it always was (curl sends Expect: 100-continue
            # and the server answers at once); over the relay and HTTPS
            # without it, as ours never waits for a 100 Continue.
            expect = [] if route.link == 'loopback' else ['-H', 'Expect:']
            start = time.perf_counter()
            url = route.create(size)
            _, out, rss, client_cpu = timed(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PATCH',
                                            '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0',
                                            '-H', 'Content-Type: application/offset+octet-stream'] + expect + tls
                                           + ['-T', path, url], self.args.work)
            wall = time.perf_counter() - start
            if out.strip() != '204':
                raise SystemExit('upload.py: curl PATCH %s answered %s' % (url, out.strip()))
        elif client == 'curl-chunks':
            # The requests `tus upload` sends, from curl: one PATCH per chunk,
            # one after the other on one connection, each waiting for its
            # answer. The chunks were cut into files beforehand (untimed).
            pieces = self.chunk_files(path, chunk)
            start = time.perf_counter()
            url = route.create(size)
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
                    if route.cacert:
                        f.write('cacert = "%s"\n' % route.cacert)
                    offset += os.path.getsize(piece)
            _, out, rss, client_cpu = timed(['curl', '-K', config], self.args.work)
            wall = time.perf_counter() - start
            codes = out.split()
            if len(codes) != len(pieces) or any(code != '204' for code in codes):
                raise SystemExit('upload.py: curl PATCHes to %s answered %s' % (url, ' '.join(sorted(set(codes)))))
        elif client in ('tuspy', 'tuspy-chunks'):
            # tuspy with its defaults (one PATCH), or in its chunked mode.
            _, out, rss, client_cpu = timed([self.args.python, '-c', TUSPY, route.endpoint, path,
                                             str(chunk if client == 'tuspy-chunks' else 0)], self.args.work)
            answer = json.loads(out.strip().splitlines()[-1])
            wall, url = answer['elapsed'], answer['url']
        else:
            raise ValueError(client)
        server_cpu = server.cpu() - cpu_before
        relay_cpu = route.relay_cpu() - relay_before if route.relay else None
        upload_url = url
        if route.named:
            url = endpoint
        digest = self.verify(server, url, path)
        uploads = server.uploads()
        join = server.join_seconds(url) if client == 'ours-parallel' else None
        server.clear()
        # Let the kernel finish with the deleted gigabyte (writeback, freeing
        # blocks) now rather than during the next, timed run.
        os.sync()
        time.sleep(0.2)
        fields = {
            'workload': 'upload', 'server': server.name, 'link': route.link, 'backend': client, 'file_bytes': size,
            'chunk_bytes': chunk if client in ('curl-chunks', 'tuspy-chunks') or (client in ('ours', 'baseline') and sizes == 'chunks')
            else None,
            'bytes_per_s': round(size / wall, 1), 'seconds': round(wall, 3),
            'client_cpu_s': round(client_cpu, 4), 'harness_cpu_s': round(HARNESS_CPU[0], 4),
            'server_cpu_s': round(server_cpu, 3),
            'relay_cpu_s': round(relay_cpu, 3) if route.relay else None,
            'peak_rss_bytes': rss, 'sha256': digest, 'verified': True, 'server_uploads': uploads}
        if client == 'ours-parallel':
            fields['parts'] = self.args.parallel
            fields['join_s'] = join
        if client in ('ours-ietf', 'ours-tus', 'curl-draft'):
            fields['protocol'] = 'tus' if client == 'ours-tus' else 'ietf'
            # The upload's URL, as the client was given it: through the
            # relay, when the server advertised the relay's origin.
            fields['upload_url'] = upload_url
            if route.relay:
                fields['upload_url_through_relay'] = urllib.parse.urlsplit(upload_url).port == route.relay.port
        if route.nginx:
            requests = route.nginx.requests(logged)
            patches = [r for r in requests if r[0] == 'PATCH']
            fields['requests'] = {method: sum(1 for r in requests if r[0] == method)
                                  for method in sorted(set(r[0] for r in requests))}
            fields['largest_patch_bytes'] = max((int(r[2]) for r in patches), default=0)
            fields['tls'] = sorted(set('%s %s' % (r[3], r[4]) for r in patches))
        return self.record(fields)

    def upload_many(self, client, route, paths):
        """One timed upload of every file in `paths` over `route`: ours as one
        `tus upload FILE... --no-store --jobs N` process, or tuspy uploading
        them one after another in one process. Every file's bytes are
        checked on the server, then the server's files are deleted."""
        server = route.server
        total = sum(os.path.getsize(path) for path in paths)
        self.warm_page_cache(server, total)
        cpu_before = server.cpu()
        relay_before = route.relay_cpu()
        if client == 'ours-jobs':
            wall, out, rss, client_cpu = timed([self.args.tus, 'upload'] + paths
                                               + ['--endpoint', route.endpoint, '--no-store',
                                                  '--jobs', str(self.args.jobs)], self.args.work)
            urls = {}
            for line in out.splitlines():
                if '\t' in line:
                    path, url = line.split('\t', 1)
                    urls[path] = url
        elif client == 'tuspy-files':
            # tuspy's defaults: a file of 1 MiB is one PATCH either way.
            _, out, rss, client_cpu = timed([self.args.python, '-c', TUSPY_FILES, route.endpoint, '0'] + paths,
                                            self.args.work)
            answer = json.loads(out.strip().splitlines()[-1])
            wall = answer['elapsed']
            urls = dict(zip(paths, answer['urls']))
        else:
            raise ValueError(client)
        server_cpu = server.cpu() - cpu_before
        relay_cpu = route.relay_cpu() - relay_before if route.relay else None
        missing = [path for path in paths if path not in urls]
        if missing or len(urls) != len(paths):
            raise SystemExit('upload.py: %s printed %d URLs for %d files (missing: %s)'
                             % (client, len(urls), len(paths), ', '.join(missing[:3]) or 'none'))
        if len(set(urls.values())) != len(paths):
            raise SystemExit('upload.py: %s gave %d distinct URLs for %d files'
                             % (client, len(set(urls.values())), len(paths)))
        for path in paths:
            self.verify(server, urls[path], path)
        uploads = server.uploads()
        server.clear()
        os.sync()
        time.sleep(0.2)
        fields = {
            'workload': 'upload-files', 'server': server.name, 'link': route.link, 'backend': client,
            'files': len(paths), 'file_bytes': total, 'jobs': self.args.jobs if client == 'ours-jobs' else 1,
            'chunk_bytes': None,
            'bytes_per_s': round(total / wall, 1), 'seconds': round(wall, 3),
            'client_cpu_s': round(client_cpu, 4), 'harness_cpu_s': round(HARNESS_CPU[0], 4),
            'server_cpu_s': round(server_cpu, 3), 'relay_cpu_s': round(relay_cpu, 3) if route.relay else None,
            'peak_rss_bytes': rss, 'verified': True,
            'server_uploads': uploads}
        return self.record(fields)


def row(label, ours, reference, ratio, target, ok, shown):
    return '| %s | %s | %s | %.2f | %s | %s |' % (label, shown(ours), shown(reference), ratio, target,
                                                   'yes' if ok else 'MISSED')


def rate(value):
    return '%.0f MB/s' % (value / 1e6)


def mib(value):
    return '%.1f MiB' % (value / MiB)


def seconds(value):
    return '%.2f s' % value


def size_name(size_mib):
    return '1 GiB' if size_mib == 1024 else '%d MiB' % size_mib


# How the rows name tuspy with its defaults (chunk_size=sys.maxsize in
# tuspy 1.1.0, as tus-js-client's chunkSize is Infinity: a POST, then one
# PATCH of the whole file), and what ours, with its defaults too, must reach
# against it: over loopback at least its rate. Against one PATCH no client
# has round trips to save, so 2x (the target against tuspy's 5 MiB chunks)
# would ask for more than curl's one PATCH reaches. Over the 40 ms relay
# both are at the floor the link sets for curl's one PATCH (two round trips
# and the relay's window), where ours is measured against curl with 0.7 and
# against tuspy lands at 1.0-1.1: 0.9 says ours is not measurably slower,
# where 1 would miss on noise alone (see Docs/Performance.md).
TUSPY_DEFAULTS = 'tuspy with its defaults, one PATCH'
TUSPY_DEFAULTS_TARGET = 1
TUSPY_DEFAULTS_LINK_TARGET = 0.9

# The workloads --only picks from.
GROUPS = ('devserver', 'tuspyserver', 'growth', 'relay', 'https', 'parallel', 'capped', 'files', 'draft-nio',
          'draft-serve')


def find_nginx():
    found = shutil.which('nginx') or ('/usr/sbin/nginx' if os.access('/usr/sbin/nginx', os.X_OK) else None)
    if not found:
        raise SystemExit('upload.py: nginx is not installed (scripts/setup --test installs nginx-light)')
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tus', required=True, help='the tus executable (release build)')
    parser.add_argument('--relay', help='the test-relay executable (release build); needed for --only relay')
    parser.add_argument('--nio-server', help='the nio-resumable-upload-server executable (release build); needed '
                        'for --only draft-nio')
    parser.add_argument('--nginx', help='the nginx executable (default: nginx on PATH, or /usr/sbin/nginx)')
    parser.add_argument('--python', default=sys.executable, help='a Python with tuspy, tuspyserver and uvicorn')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--work', help='scratch folder (default: a new temporary one)')
    parser.add_argument('--results', help='append every run, one JSON line each, to this file')
    parser.add_argument('--file', help='the file to upload, of --size-mib MiB (default: a new random one)')
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--small-mib', type=int, default=256)
    parser.add_argument('--relay-mib', type=int, default=64, help='the size uploaded over the relays')
    parser.add_argument('--round-trip-ms', type=int, default=40, help="the relays' round trip")
    parser.add_argument('--chunk-mib', type=int, default=5)
    parser.add_argument('--parallel-mib', type=int, default=256, help='the size uploaded in parts over the relay')
    parser.add_argument('--parallel', type=int, default=4, help='the parts of that upload (tus upload --parallel)')
    parser.add_argument('--capped-mbit', type=int, default=200,
                        help='the rate cap of each connection through the capped relay, in Mbit/s (10^6 bits)')
    parser.add_argument('--files', type=int, default=100, help='how many files the many-files workload uploads')
    parser.add_argument('--files-mib', type=int, default=1, help='the size of each of those files')
    parser.add_argument('--jobs', type=int, default=8, help='how many files ours uploads at once (tus upload --jobs)')
    parser.add_argument('--only', default=','.join(GROUPS), help='comma-separated: ' + ', '.join(GROUPS))
    parser.add_argument('--baseline-tus', help='another build of tus (such as an older commit\'s): its uploads take '
                        'turns with ours in the devserver, relay and https workloads, and a row compares the client '
                        'CPU per GiB of ours with its')
    parser.add_argument('--baseline-label', default='baseline', help='what the rows call the --baseline-tus build')
    parser.add_argument('--pin', action='store_true',
                        help='run the servers, relays and nginx on one CPU and every client on another (taskset)')
    args = parser.parse_args()
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit('upload.py: --pin needs two CPUs, and this process may use %d' % len(cpus))
        SERVER_CPU[:] = ['taskset', '-c', str(cpus[-1])]
        CLIENT_CPU[:] = ['taskset', '-c', str(cpus[0])]
    args.tus = os.path.abspath(args.tus)
    if args.baseline_tus:
        args.baseline_tus = os.path.abspath(args.baseline_tus)
    only = set(args.only.split(','))
    unknown = only - set(GROUPS)
    if unknown:
        raise SystemExit('upload.py: --only: unknown %s' % ', '.join(sorted(unknown)))
    if only & {'relay', 'parallel', 'capped', 'files', 'draft-nio', 'draft-serve'}:
        if not args.relay:
            raise SystemExit('upload.py: --only relay, parallel, capped, files, draft-nio and draft-serve need --relay '
                             '(swift build -c release --product test-relay)')
        args.relay = os.path.abspath(args.relay)
    if 'draft-nio' in only:
        if not args.nio_server:
            raise SystemExit('upload.py: --only draft-nio needs --nio-server '
                             '(swift build -c release --product nio-resumable-upload-server)')
        args.nio_server = os.path.abspath(args.nio_server)
    if 'https' in only:
        args.nginx = args.nginx or find_nginx()
    owned_work = args.work is None
    args.work = os.path.abspath(args.work or tempfile.mkdtemp(prefix='tus-upload-bench.'))
    work = os.path.join(args.work, 'uploads')
    os.makedirs(work, exist_ok=True)
    args.work = work
    bench = Bench(args)
    log('  /usr/bin/time and taskset cost %.1f ms of CPU a run; taken off every client\'s CPU time'
        % (measure_harness(work) * 1000))

    # SIGTERM and SIGINT end the run through `finally`, which stops the servers.
    def interrupted(number, frame):
        raise SystemExit(128 + number)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    servers = []
    helpers = []
    files = []
    try:
        small = os.path.join(work, '%dMiB.bin' % args.small_mib)
        linked = os.path.join(work, 'relay-%dMiB.bin' % args.relay_mib)
        # One byte: what an upload costs a client whatever its size.
        tiny = os.path.join(work, 'one-byte.bin')
        with open(tiny, 'wb') as f:
            f.write(os.urandom(1))
        files.append(tiny)
        if args.file:
            big = os.path.abspath(args.file)
            if os.path.getsize(big) != args.size_mib * MiB:
                raise SystemExit('upload.py: %s does not hold %d MiB' % (big, args.size_mib))
            log('  making %s and %s...' % (os.path.basename(small), os.path.basename(linked)))
            files += [small, linked]
        else:
            big = os.path.join(work, '%dMiB.bin' % args.size_mib)
            log('  making %s, %s and %s...' % (os.path.basename(big), os.path.basename(small), os.path.basename(linked)))
            files += [big, small, linked]
            with open(big, 'wb') as f:
                for _ in range(args.size_mib):
                    f.write(os.urandom(MiB))
        cuts = [(small, args.small_mib), (linked, args.relay_mib)]
        # The file uploaded in parts over the relay (the first
        # --parallel-mib MiB of the big file), and the many files (each
        # --files-mib MiB, cut one after another from the big file, so each
        # holds other bytes).
        parted = None
        if only & {'parallel', 'capped'}:
            if args.parallel_mib == args.small_mib:
                parted = small
            else:
                parted = os.path.join(work, 'parallel-%dMiB.bin' % args.parallel_mib)
                files.append(parted)
                cuts.append((parted, args.parallel_mib))
        for part, part_mib in cuts:
            with open(big, 'rb') as source, open(part, 'wb') as f:
                for _ in range(part_mib):
                    f.write(source.read(MiB))
        many = []
        if 'files' in only:
            if args.files * args.files_mib > args.size_mib:
                raise SystemExit('upload.py: %d files of %d MiB do not fit in %d MiB'
                                 % (args.files, args.files_mib, args.size_mib))
            folder = os.path.join(work, 'many-files')
            os.makedirs(folder, exist_ok=True)
            with open(big, 'rb') as source:
                for index in range(args.files):
                    path = os.path.join(folder, 'file-%03d.bin' % (index + 1))
                    with open(path, 'wb') as f:
                        f.write(source.read(args.files_mib * MiB))
                    many.append(path)

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
        dev_direct = Route(dev, 'loopback', dev.endpoint)
        tps_direct = Route(tps, 'loopback', tps.endpoint) if tps else None
        relayed = {}
        if only & {'relay', 'parallel', 'files', 'draft-nio', 'draft-serve'}:
            for server in [dev] + ([tps] if tps and 'relay' in only else []):
                relay = Relay(args.relay, server, args.round_trip_ms, work)
                helpers.append(relay)
                relayed[server.name] = Route(server, 'relay', relay.endpoint, relay=relay)
        # The same round trip with a rate cap on each connection, as a
        # network that shapes each flow (or a server that limits each
        # connection) has: there a connection cannot go faster however
        # large its window, and parts on their own connections add up.
        capped = None
        if 'capped' in only:
            relay = Relay(args.relay, dev, args.round_trip_ms, work, rate=args.capped_mbit * 1000000 // 8)
            helpers.append(relay)
            capped = Route(dev, 'capped-relay', relay.endpoint, relay=relay)
        # The IETF draft (interop version 6) through the relay: to Apple's
        # NIOResumableUpload, and to tus serve once it speaks the draft.
        # NIOResumableUpload gives each upload an absolute URL of the origin
        # it was started with: started with the relay's, every request of
        # an upload goes through the relay, not only the creation. So the
        # relay starts first, toward a free port, then the server on it.
        nio_route = None
        if 'draft-nio' in only:
            nio_port = free_port()
            nio_dir = os.path.join(work, 'nio-files')
            relay = Relay(args.relay, None, args.round_trip_ms, work,
                          upstream=('nio-resumable-upload', 'http://127.0.0.1:%d/uploads/' % nio_port))
            helpers.append(relay)
            nio = Server('nio-resumable-upload', [args.nio_server, nio_dir, '--port', '{port}', '--origin', relay.origin],
                         nio_dir, path='/uploads/', port=nio_port)
            servers.append(nio)
            relay.probe()
            nio_route = Route(nio, 'relay', relay.endpoint, relay=relay, named=True)
        # tus serve answers the draft only once it has been taught it: a
        # creation request in the draft (no Tus-Resumable) tells. Until
        # then its draft rows are not run, and say why.
        serve_skipped = None
        if 'draft-serve' in only:
            speaks, said = speaks_draft(dev.endpoint)
            dev.clear()
            if not speaks:
                serve_skipped = said
                only.discard('draft-serve')
                log('  tus serve does not speak the IETF draft (it answered a draft creation request %s): '
                    'its draft rows are not run' % said)
        tls = None
        if 'https' in only:
            nginx = Nginx(args.nginx, dev, os.path.join(work, 'nginx'))
            helpers.append(nginx)
            tls = Route(dev, 'https', nginx.endpoint, cacert=nginx.cacert, nginx=nginx)

        runs = {}
        def keep(key, fields):
            runs.setdefault(key, []).append(fields)

        # Each round, every upload of a workload once; who goes first turns
        # from round to round.
        plan = []
        # With --baseline-tus, the other build takes its turn beside ours in
        # each workload it shares with curl (loopback to tus serve, the relay
        # to tus serve, HTTPS).
        baseline = [('baseline', 'baseline')] if args.baseline_tus else []
        if 'devserver' in only:
            plan.append([('dev-ours', 'ours', dev_direct, big), ('dev-curl', 'curl', dev_direct, big),
                         ('dev-curl-chunks', 'curl-chunks', dev_direct, big), ('dev-tuspy', 'tuspy', dev_direct, big),
                         ('dev-tuspy-chunks', 'tuspy-chunks', dev_direct, big),
                         ('dev-ours-default', 'ours', dev_direct, big)]
                        + [('dev-' + key, client, dev_direct, big) for key, client in baseline])
        if 'growth' in only:
            if 'devserver' not in only:
                plan.append([('dev-ours', 'ours', dev_direct, big)])
            plan.append([('dev-ours-small', 'ours', dev_direct, small)])
        if tps:
            plan.append([('tps-ours', 'ours', tps_direct, big), ('tps-tuspy', 'tuspy', tps_direct, big),
                         ('tps-tuspy-chunks', 'tuspy-chunks', tps_direct, big), ('tps-curl', 'curl', tps_direct, big),
                         ('tps-ours-default', 'ours', tps_direct, big)])
        if 'relay' in only:
            for name, route in relayed.items():
                plan.append([('relay-%s-%s' % (name, client), client, route, linked)
                             for client in ('ours', 'curl', 'tuspy', 'tuspy-chunks')
                             + (('baseline',) if baseline and name == 'tus-serve' else ())])
        if tls:
            plan.append([('https-ours', 'ours', tls, big), ('https-curl', 'curl', tls, big)]
                        + [('https-' + key, client, tls, big) for key, client in baseline])
        # Uploads of one byte: over loopback, the part of every client's CPU
        # time that does not grow with the file (process start, the
        # requests), for the notes on the CPU rows; through the relay, the
        # time its start and its round trips take, for the notes on the
        # relay rows.
        plan.append([('fixed-ours', 'ours', dev_direct, tiny), ('fixed-curl', 'curl', dev_direct, tiny)])
        if 'relay' in only:
            plan.append([('fixed-relay-%s' % client, client, relayed['tus-serve'], tiny)
                         for client in ('ours', 'curl', 'tuspy')])
        # Through the relay to tus serve: one file in parts at once, against
        # curl's one PATCH; many files a few at once from one process,
        # against tuspy uploading them one after another.
        # Each with ours in one upload too (default options), for the notes:
        # what the parts gain or cost on that link.
        if 'parallel' in only:
            plan.append([('parallel-ours', 'ours-parallel', relayed['tus-serve'], parted),
                         ('parallel-curl', 'curl', relayed['tus-serve'], parted),
                         ('parallel-ours-whole', 'ours', relayed['tus-serve'], parted)])
        if 'capped' in only:
            plan.append([('capped-ours', 'ours-parallel', capped, parted), ('capped-curl', 'curl', capped, parted),
                         ('capped-ours-whole', 'ours', capped, parted)])
        if 'files' in only:
            plan.append([('files-ours', 'ours-jobs', relayed['tus-serve'], many),
                         ('files-tuspy', 'tuspy-files', relayed['tus-serve'], many)])
        # The draft through the relay, in turn with ours in tus 1.0 to tus
        # serve through its relay: one round of turns for every row of the
        # draft, so that they share the tus 1.0 runs they are compared with.
        draft_turns = []
        if 'draft-nio' in only:
            draft_turns += [('draft-nio-ours', 'ours-ietf', nio_route, linked),
                            ('draft-nio-curl', 'curl-draft', nio_route, linked)]
        if 'draft-serve' in only:
            draft_turns += [('draft-serve-ours', 'ours-ietf', relayed['tus-serve'], linked),
                            ('draft-serve-curl', 'curl-draft', relayed['tus-serve'], linked)]
        if draft_turns:
            plan.append([('draft-tus', 'ours-tus', relayed['tus-serve'], linked)] + draft_turns)
        for n in range(args.runs):
            log('  uploads, round %d of %d...' % (n + 1, args.runs))
            for turns in plan:
                start = n % len(turns)
                for key, client, route, path in turns[start:] + turns[:start]:
                    if isinstance(path, list):
                        keep(key, bench.upload_many(client, route, path))
                        continue
                    # Over loopback ours sends 5 MiB chunks, but for its
                    # one-byte uploads and its runs with default options
                    # (against tuspy's defaults).
                    sizes = ('chunks' if route.link == 'loopback' and not key.startswith('fixed-')
                             and not key.endswith('-default') else 'default')
                    # With --parallel the server writes the bytes twice (the
                    # parts, then the final upload): every client of those
                    # workloads gets a warm-up for twice the file.
                    keep(key, bench.upload(client, route, path, sizes,
                                           2 if key.startswith(('parallel-', 'capped-')) else 1))

        def median(key, field='bytes_per_s'):
            return statistics.median(r[field] for r in runs[key])

        def cpu_per_gib(key):
            """Median client CPU seconds per GiB uploaded."""
            return statistics.median(r['client_cpu_s'] / (r['file_bytes'] / GiB) for r in runs[key])

        def cell(key):
            """A rate, and that client's CPU time per GiB."""
            return '%s, CPU %.2f s/GiB' % (rate(median(key)), cpu_per_gib(key))

        def rate_row(label, ours_key, reference_key, target, ok=None):
            ratio = median(ours_key) / median(reference_key)
            if ok is None:
                ok = 'yes' if ratio >= target else 'MISSED'
            return '| %s | %s | %s | %.2f | ≥%g | %s |' % (label, cell(ours_key), cell(reference_key), ratio, target, ok)

        cpu_rows = []

        def cpu_row(workload, ours_key, curl_key, same_requests_key=None, curl_named='curl, one PATCH'):
            """Ours's client CPU per GiB against curl's single PATCH (or the
            single request `curl_named`), same workload. A miss gets a note:
            what an upload of one byte costs each (the part that does not
            grow with the file), what is left per GiB without it, and what
            curl sending our requests spends."""
            ours, curl = cpu_per_gib(ours_key), cpu_per_gib(curl_key)
            label = 'Client CPU per GiB: %s (ours ÷ %s)' % (workload, curl_named)
            cpu_rows.append(row(label, ours, curl, ours / curl, '≤1.3', ours / curl <= 1.3, seconds))
            if ours / curl <= 1.3:
                return
            fixed_ours, fixed_curl = median('fixed-ours', 'client_cpu_s'), median('fixed-curl', 'client_cpu_s')
            gib = runs[ours_key][0]['file_bytes'] / GiB
            ours_left = (median(ours_key, 'client_cpu_s') - fixed_ours) / gib
            curl_left = (median(curl_key, 'client_cpu_s') - fixed_curl) / gib
            note = ('- %s: an upload of one byte to tus serve over loopback costs ours %.1f ms of CPU (its start and '
                    'its requests) and curl '
                    '%.1f ms (its start and one PATCH), %.2f s and %.2f s per GiB at %s; without them ours spends '
                    '%.2f s per GiB and curl %.2f s (%.2f×).'
                    % (label, fixed_ours * 1000, fixed_curl * 1000, fixed_ours / gib, fixed_curl / gib,
                       size_name(round(gib * 1024)), ours_left, curl_left, ours_left / curl_left))
            if same_requests_key:
                note += (' curl sending the same %s PATCHes as ours, on one connection, spends %.2f s per GiB '
                         '(ours %.2f×).' % (chunk.replace(' chunks', ''), cpu_per_gib(same_requests_key),
                                             ours / cpu_per_gib(same_requests_key)))
            notes.append(note)

        def baseline_row(workload, ours_key, baseline_key):
            """Ours's client CPU per GiB against the --baseline-tus build's,
            same workload, taking turns: what a change between the two costs.
            Target: within 3 %."""
            if baseline_key not in runs:
                return
            ours, other = cpu_per_gib(ours_key), cpu_per_gib(baseline_key)
            label = 'Client CPU per GiB: %s (ours ÷ %s)' % (workload, args.baseline_label)
            cpu_rows.append(row(label, ours, other, ours / other, '≤1.03', ours / other <= 1.03, seconds))

        size = size_name(args.size_mib)
        chunk = '%d MiB chunks' % args.chunk_mib
        tuspy_chunked = 'tuspy in its chunked mode, %s' % chunk
        rows = []
        notes = []
        if 'devserver' in only:
            ours, curl, tuspy = median('dev-ours'), median('dev-curl'), median('dev-tuspy')
            chunks = median('dev-curl-chunks')

            def against(label, reference_key, target):
                """A row of ours against `reference_key`; "limit" when curl sending
                the same requests as ours misses the target too, and ours
                reaches what that curl reaches, give or take LIMIT_BAND."""
                reference = median(reference_key)
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
                return rate_row(label, 'dev-ours', reference_key, target, ok)

            rows.append(against('Upload %s to tus serve, %s (vs curl, one PATCH)' % (size, chunk), 'dev-curl', 0.8))
            rows.append(rate_row('Upload %s to tus serve, default sizes (vs %s)' % (size, TUSPY_DEFAULTS),
                                 'dev-ours-default', 'dev-tuspy', TUSPY_DEFAULTS_TARGET))
            rows.append(against('Upload %s to tus serve, %s (vs %s)' % (size, chunk, tuspy_chunked), 'dev-tuspy-chunks',
                                2))
            cpu_row('%s to tus serve, %s' % (size, chunk), 'dev-ours', 'dev-curl', 'dev-curl-chunks')
            baseline_row('%s to tus serve, %s' % (size, chunk), 'dev-ours', 'dev-baseline')
        if tps:
            rows.append(rate_row('Upload %s to tuspyserver, default sizes (vs %s)' % (size, TUSPY_DEFAULTS),
                                 'tps-ours-default', 'tps-tuspy', TUSPY_DEFAULTS_TARGET))
            rows.append(rate_row('Upload %s to tuspyserver, %s (vs %s)' % (size, chunk, tuspy_chunked), 'tps-ours',
                                 'tps-tuspy-chunks', 1))
            cpu_row('%s to tuspyserver, %s' % (size, chunk), 'tps-ours', 'tps-curl')
        for name in (relayed if 'relay' in only else []):
            label = 'Upload %s to %s over a %d ms round trip, default sizes' % (
                size_name(args.relay_mib), 'tus serve' if name == 'tus-serve' else name, args.round_trip_ms)
            keys = {client: 'relay-%s-%s' % (name, client) for client in ('ours', 'curl', 'tuspy', 'tuspy-chunks')}
            for client, target, named in (('curl', 0.7, 'curl, one PATCH'), ('tuspy', TUSPY_DEFAULTS_LINK_TARGET, TUSPY_DEFAULTS),
                                          ('tuspy-chunks', 2, tuspy_chunked)):
                shown = '%s (vs %s)' % (label, named)
                rows.append(rate_row(shown, keys['ours'], keys[client], target))
                if median(keys['ours']) / median(keys[client]) >= target:
                    continue
                # A miss: how far curl's one PATCH, over the same link, is
                # from the reference, and where the time of each goes: what
                # one byte takes (start and round trips) and what the rest of
                # the file adds.
                seconds_of = {c: median(k, 'seconds') for c, k in keys.items()}
                versus = 'tuspy' if client == 'curl' else client
                note = ('- %s: the target asks for %s; over the same link curl\'s one PATCH reaches %.2f× %s, '
                        'and ours %.0f %% of curl. Times: ours %.0f ms, curl %.0f ms, tuspy %.0f ms with its defaults '
                        'and %.0f ms in %s'
                        % (shown, rate(target * median(keys[client])), median(keys['curl']) / median(keys[versus]),
                           TUSPY_DEFAULTS if versus == 'tuspy' else tuspy_chunked,
                           median(keys['ours']) / median(keys['curl']) * 100,
                           seconds_of['ours'] * 1000, seconds_of['curl'] * 1000, seconds_of['tuspy'] * 1000,
                           seconds_of['tuspy-chunks'] * 1000, chunk))
                if 'fixed-relay-ours' in runs and name == 'tus-serve':
                    fixed = {c: median('fixed-relay-' + c, 'seconds') for c in ('ours', 'curl', 'tuspy')}
                    patches = -(-args.relay_mib // args.chunk_mib)
                    note += ('; one byte over this link: ours %.0f ms (from its start to its exit), curl %.0f ms '
                             '(POST and PATCH), tuspy %.0f ms (POST and PATCH); so the file\'s bytes add %.0f ms to '
                             'ours, %.0f ms to curl, %.0f ms to tuspy with its defaults and %.0f ms to tuspy in %s, '
                             'whose %d PATCHes of %d MiB wait for %d more round trips than one (%d ms)'
                             % (fixed['ours'] * 1000, fixed['curl'] * 1000, fixed['tuspy'] * 1000,
                                (seconds_of['ours'] - fixed['ours']) * 1000, (seconds_of['curl'] - fixed['curl']) * 1000,
                                (seconds_of['tuspy'] - fixed['tuspy']) * 1000,
                                (seconds_of['tuspy-chunks'] - fixed['tuspy']) * 1000, chunk, patches, args.chunk_mib,
                                patches - 1, (patches - 1) * args.round_trip_ms))
                notes.append(note + '.')
            cpu_row(label[len('Upload '):], 'relay-%s-ours' % name, 'relay-%s-curl' % name)
            baseline_row(label[len('Upload '):], 'relay-%s-ours' % name, 'relay-%s-baseline' % name)
        if tls:
            label = 'Upload %s to tus serve over HTTPS through nginx, default sizes' % size
            rows.append(rate_row('%s (vs curl, one PATCH)' % label, 'https-ours', 'https-curl', 0.8))
            cpu_row(label[len('Upload '):], 'https-ours', 'https-curl')
            baseline_row(label[len('Upload '):], 'https-ours', 'https-baseline')
            # What nginx saw: how many PATCHes ours sent, the largest, and
            # the TLS version and cipher each client agreed on.
            def seen(key):
                return ', '.join(sorted(set(v for r in runs[key] for v in r['tls'])))
            patches = sorted(set(r['requests'].get('PATCH', 0) for r in runs['https-ours']))
            notes.append('- %s: PATCH requests a run: ours %s (the largest %s), curl 1; TLS: ours %s, curl %s.'
                         % (label, '–'.join(str(n) for n in patches),
                            mib(max(r['largest_patch_bytes'] for r in runs['https-ours'])),
                            seen('https-ours'), seen('https-curl')))
        def spread(key, field):
            """The values of `field` over the runs of `key`, as "a" or "a–b"."""
            values = sorted(set(r[field] for r in runs[key]))
            return '–'.join(str(v) for v in (values if len(values) < 3 else (values[0], values[-1])))

        # In parts at once through the relay, and through the relay that
        # caps each connection: ours with --parallel against curl's one
        # PATCH, with ours in one upload beside them in the notes.
        for group, link in (('parallel', ''), ('capped', ' capped at %d Mbit/s a connection' % args.capped_mbit)):
            if group not in only:
                continue
            label = 'Upload %s to tus serve over a %d ms round trip%s, ours in %d parts at once with --parallel %d' % (
                size_name(args.parallel_mib), args.round_trip_ms, link, args.parallel, args.parallel)
            ours_key, curl_key, whole_key = group + '-ours', group + '-curl', group + '-ours-whole'
            # Over the plain relay one connection moves 4 MiB a 20 ms (the
            # relay's window) and parts have that window each; under a cap
            # of each connection, the parts have the cap each.
            rows.append(rate_row('%s (vs curl, one PATCH)' % label, ours_key, curl_key, 0.9 if group == 'parallel' else 3))
            # What each run took and left on the server, and the CPU of
            # each side (no target: the CPU rows compare single uploads).
            # The relay and tus serve share one CPU (--pin): their CPU time
            # next to the wall time says whether that CPU was full.
            joins = sorted(r['join_s'] * 1000 for r in runs[ours_key] if r['join_s'] is not None)
            joined = ('%.0f–%.0f' % (joins[0], joins[-1]) if len(joins) > 1 else
                      '%.0f' % joins[0] if joins else 'an unknown number of')
            notes.append('- %s: times: ours %.0f ms with --parallel %d and %.0f ms without (one upload, default '
                         'sizes: %.2f× the parts\' rate), curl %.0f ms; of ours\'s with --parallel, the server '
                         'joining the parts into the '
                         'final upload (from the last byte written into a part to the last written into the final '
                         'upload, by the files\' modification times) took %s ms; CPU of the relay and of tus serve, '
                         'which share one CPU: %.2f s and %.2f s behind ours, '
                         '%.2f s and %.2f s behind curl; uploads the server held after a run: '
                         'ours %s (%d parts and the final one), curl %s; client CPU per GiB, ours ÷ curl: %.2f×.'
                         % (label, median(ours_key, 'seconds') * 1000, args.parallel,
                            median(whole_key, 'seconds') * 1000, median(whole_key) / median(ours_key),
                            median(curl_key, 'seconds') * 1000, joined,
                            median(ours_key, 'relay_cpu_s'), median(ours_key, 'server_cpu_s'),
                            median(curl_key, 'relay_cpu_s'), median(curl_key, 'server_cpu_s'),
                            spread(ours_key, 'server_uploads'), args.parallel,
                            spread(curl_key, 'server_uploads'),
                            cpu_per_gib(ours_key) / cpu_per_gib(curl_key)))
        if 'files' in only:
            label = ('Upload %d files of %d MiB to tus serve over a %d ms round trip, ours %d at once with --jobs %d '
                     'in one process' % (args.files, args.files_mib, args.round_trip_ms, args.jobs, args.jobs))
            rows.append(rate_row('%s (vs tuspy with its defaults, one after another in one process)' % label,
                                 'files-ours', 'files-tuspy', 5))
            notes.append('- %s: times: ours %.2f s (one process, from its start to its exit), tuspy %.2f s (one '
                         'process, from its first TusClient() to its last upload()\'s return), %.0f ms and %.0f ms a '
                         'file; uploads the server held after a run: ours %s, tuspy %s; client CPU per GiB, '
                         'ours ÷ tuspy: %.2f× (tuspy\'s counts its interpreter start and imports, its rate does not).'
                         % (label, median('files-ours', 'seconds'), median('files-tuspy', 'seconds'),
                            median('files-ours', 'seconds') / args.files * 1000,
                            median('files-tuspy', 'seconds') / args.files * 1000,
                            spread('files-ours', 'server_uploads'), spread('files-tuspy', 'server_uploads'),
                            cpu_per_gib('files-ours') / cpu_per_gib('files-tuspy')))
        # The draft through the relay: ours against ours in tus 1.0 to tus
        # serve over the same kind of link (target: the draft within 10 %),
        # and against curl's one POST of the whole file in the draft.
        draft_servers = [(key, name) for key, name in (('nio', 'NIOResumableUpload'), ('serve', 'tus serve'))
                         if 'draft-' + key in only or (key == 'serve' and serve_skipped is not None)]
        for key, name in draft_servers:
            label = 'Upload %s to %s over a %d ms round trip with the IETF draft (interop 6), default sizes' % (
                size_name(args.relay_mib), name, args.round_trip_ms)
            versus_tus = 'ours with tus 1.0 to tus serve over a %d ms round trip' % args.round_trip_ms
            versus_curl = 'curl, one POST with the draft'
            if key == 'serve' and serve_skipped is not None:
                for versus in (versus_tus, versus_curl):
                    rows.append('| %s (vs %s) | not run | not run | – | ≥0.9 | skipped |' % (label, versus))
                notes.append('- %s: not run: tus serve answered a creation request in the draft '
                             '(Upload-Draft-Interop-Version: 6, Upload-Complete: ?1, no Tus-Resumable) with %s, '
                             'so it does not speak the draft yet; these rows run once it does.'
                             % (label, serve_skipped))
                continue
            ours_key, curl_key = 'draft-%s-ours' % key, 'draft-%s-curl' % key
            rows.append(rate_row('%s (vs %s)' % (label, versus_tus), ours_key, 'draft-tus', 0.9))
            rows.append(rate_row('%s (vs %s)' % (label, versus_curl), ours_key, curl_key, 0.9))
            cpu_row(label[len('Upload '):], ours_key, curl_key, curl_named=versus_curl)
            through = all(r.get('upload_url_through_relay') for k in (ours_key, curl_key) for r in runs[k])
            notes.append('- %s: times: ours %.0f ms with the draft, curl\'s one POST %.0f ms, ours with tus 1.0 to '
                         'tus serve %.0f ms; CPU of the relay and of the server, which share one CPU: %.2f s and '
                         '%.2f s behind ours, %.2f s and %.2f s behind curl; %s'
                         % (label, median(ours_key, 'seconds') * 1000, median(curl_key, 'seconds') * 1000,
                            median('draft-tus', 'seconds') * 1000,
                            median(ours_key, 'relay_cpu_s'), median(ours_key, 'server_cpu_s'),
                            median(curl_key, 'relay_cpu_s'), median(curl_key, 'server_cpu_s'),
                            'every upload URL the server gave was the relay\'s, so every request went through it.'
                            if through else 'NOT every upload URL the server gave was the relay\'s: some requests '
                            'bypassed the relay (see upload_url in the results).'))
        if 'dev-ours' in runs:
            peak = max(r['peak_rss_bytes'] for key in ('dev-ours', 'tps-ours') for r in runs.get(key, []))
            bound = (args.chunk_mib + 64) * MiB
            rows.append(row('Peak RSS of tus upload, %s, %s (vs chunk + 64 MiB)' % (size, chunk), peak, bound,
                            peak / bound, '≤1', peak <= bound, mib))
        if 'growth' in only:
            large, smaller = median('dev-ours'), median('dev-ours-small')
            ok = 'yes' if large / smaller >= 0.8 else 'MISSED'
            rows.append('| %s | %s | %s | %.2f | ≥0.8 | %s |'
                        % ('Upload cost growth: bytes/s at %s vs %d MiB (tus serve)' % (size, args.small_mib),
                           cell('dev-ours'), cell('dev-ours-small'), large / smaller, ok))
        print('\n'.join(rows + cpu_rows + notes), flush=True)
    finally:
        for helper in reversed(helpers):
            helper.stop()
        for server in reversed(servers):
            server.stop()
        for path in files:
            if os.path.exists(path):
                os.remove(path)
        for name in ('tus-serve-files', 'tuspyserver-files', 'chunks', 'many-files'):
            shutil.rmtree(os.path.join(work, name), ignore_errors=True)
        if owned_work:
            shutil.rmtree(os.path.dirname(work), ignore_errors=True)


if __name__ == '__main__':
    main()
