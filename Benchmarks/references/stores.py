"""The references Benchmarks/compare measures swift-tus against, with the
arguments and the output of tus-bench: one JSON object a line.

    python stores.py WORKLOAD [--entries N] [--ops N] [--dir D] [--url U]
                              [--file F] [--template T]
    python stores.py sqlite-template --entries N --file F

Workloads: json-set json-get (tuspy 1.1.0's FileStorage), sqlite-set
sqlite-get (Python's sqlite3), redis-set redis-get (redis-benchmark),
redis-set-transaction (hiredis, synchronously: redis_set_transaction.c;
build-redis-set-transaction only builds it and prints its path),
md5-fingerprint (tuspy's Fingerprint), sha256-whole (sha256sum).
"""
import hashlib, json, os, resource, shutil, sqlite3, subprocess, sys, time

def entry(i):
    digits = '%032x' % ((i * 2654435761) & 0xffffffffffff)
    return 'size:%d--md5:%s' % (1048576 + i, digits), 'https://tus.example/files/' + digits

def report(workload, backend, entries, ops, rate_name, rate, children=False, peak_bytes=None, **extra):
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    if peak_bytes is None:
        peak_bytes = resource.getrusage(who).ru_maxrss * 1024
    fields = {'workload': workload, 'backend': backend, 'entries': entries, 'ops': ops,
              rate_name: round(rate, 1), **extra, 'peak_rss_bytes': peak_bytes}
    print(json.dumps(fields))

def fresh(directory, name):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    for suffix in ('', '-wal', '-shm'):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path

def timed_store(set_item, get_item, do_set, entries, ops):
    if do_set:
        items = [entry(entries + i) for i in range(ops)]
        start = time.perf_counter()
        for key, url in items:
            set_item(key, url)
        return time.perf_counter() - start
    keys = [entry((i * 7919) % entries)[0] for i in range(ops)]
    start = time.perf_counter()
    found = sum(1 for key in keys if get_item(key) is not None)
    elapsed = time.perf_counter() - start
    assert found == ops, (found, ops)
    return elapsed

def json_store(workload, entries, ops, directory):
    from tusclient.storage.filestorage import FileStorage
    path = fresh(directory, 'reference.json')
    table = {}
    for i in range(entries):
        key, url = entry(i)
        table[str(i + 1)] = {'key': key, 'url': url, 'stored_at': 1750000000.0}
    with open(path, 'w') as f:
        json.dump({'_default': table}, f)
    storage = FileStorage(path)
    elapsed = timed_store(storage.set_item, storage.get_item, workload.endswith('set'), entries, ops)
    storage.close()
    report(workload, 'tuspy-tinydb', entries, ops, 'ops_per_s', ops / elapsed)

SCHEMA = '''
    CREATE TABLE tus_uploads (key TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, stored_at REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at);
    PRAGMA user_version = 2;'''
UPSERT = ('INSERT INTO tus_uploads (key, url, stored_at) VALUES (?1, ?2, ?3) '
          'ON CONFLICT (key) DO UPDATE SET url = excluded.url, stored_at = excluded.stored_at')

def sqlite_template(entries, path):
    """A store of SQLiteStorage's schema holding the first `entries` entries,
    written in one transaction: the starting point both sides copy."""
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(SCHEMA)
    con.execute('BEGIN')
    con.executemany(UPSERT, ((key, url, 1750000000.0) for key, url in map(entry, range(entries))))
    con.execute('COMMIT')
    con.execute('PRAGMA journal_mode = WAL')
    con.close()

def sqlite_store(workload, entries, ops, directory, template):
    path = fresh(directory, 'reference.sqlite')
    if template:
        shutil.copyfile(template, path)
        # Flush the copy now, or the first checkpoint would pay for writing
        # all of it to disk inside the timed part.
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    con = sqlite3.connect(path, isolation_level=None)  # autocommit: one transaction a statement
    if not template:
        con.executescript(SCHEMA)
    con.execute('PRAGMA journal_mode = WAL')
    con.execute('PRAGMA synchronous = NORMAL')
    select = 'SELECT url FROM tus_uploads WHERE key = ?1'
    def set_item(key, url):
        con.execute(UPSERT, (key, url, time.time()))
    def get_item(key):
        row = con.execute(select, (key,)).fetchone()
        return row[0] if row else None
    if not template:
        for i in range(entries):
            set_item(*entry(i))
    elapsed = timed_store(set_item, get_item, workload.endswith('set'), entries, ops)
    con.close()
    report(workload, 'python-sqlite3', entries, ops, 'ops_per_s', ops / elapsed)

def redis_benchmark(workload, entries, ops, url):
    """redis-benchmark -c 1 doing what tus-bench's Redis workloads do: a set
    stores a key the server does not hold yet (a random one of 10^9), a get
    reads one of ENTRIES keys stored before it (untimed), and every value is as
    long as the workloads' URLs. Left to its defaults, redis-benchmark would
    overwrite one key with 3 bytes, and read that key, always: less work for
    the server than any store does. Runs in a database of its own (9),
    emptied afterwards."""
    port = url.rsplit(':', 1)[1].split('/')[0]
    value = str(len(entry(0)[1]))
    base = ['redis-benchmark', '-c', '1', '-P', '1', '-p', port, '--dbnum', str(REDIS_DB), '-d', value, '--csv']
    try:
        if workload.endswith('set'):
            test, run = 'SET', base + ['-t', 'set', '-n', str(ops), '-r', str(10**9)]
        else:
            # Ten random sets a key leave about none of them unstored.
            subprocess.run(base + ['-t', 'set', '-n', str(10 * entries), '-r', str(entries)],
                           check=True, capture_output=True)
            test, run = 'GET', base + ['-t', 'get', '-n', str(ops), '-r', str(entries)]
        out = subprocess.run(run, check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(['redis-cli', '-p', port, '-n', str(REDIS_DB), 'flushdb'], check=True, capture_output=True)
    rates = {}
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(',')]
        if len(cells) >= 2 and cells[0] in ('SET', 'GET'):
            rates[cells[0]] = float(cells[1])
    report(workload, 'redis-benchmark', entries, ops, 'ops_per_s', rates[test], children=True)

# The database redis-benchmark runs in: not tus-bench's (0).
REDIS_DB = 9

def redis_set_transaction_program():
    """The path of redis_set_transaction.c's build, built first with the
    system's C compiler (or Swift's clang) and hiredis when it is missing or
    older than its source."""
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(here, 'redis_set_transaction.c')
    program = os.path.normpath(os.path.join(here, '..', '.build', 'references', 'redis_set_transaction'))
    if not os.path.exists(program) or os.path.getmtime(program) < os.path.getmtime(source):
        compiler = shutil.which('cc') or shutil.which('clang')  # Swift's toolchain brings clang
        if compiler is None:
            sys.exit('stores.py: redis-set-transaction needs a C compiler (cc or clang) on the PATH')
        os.makedirs(os.path.dirname(program), exist_ok=True)
        # Built beside its final path, then moved there: an interrupted build
        # leaves no program to run.
        partial = program + '.partial'
        if subprocess.run([compiler, '-O2', '-o', partial, source, '-lhiredis']).returncode != 0:
            sys.exit('stores.py: cannot build %s (it needs hiredis\'s headers: scripts/setup installs them)' % source)
        os.replace(partial, program)
    return program

def redis_set_transaction(workload, entries, ops, url):
    """The store's own set, synchronously: redis_set_transaction.c sends
    what RedisStorage.setURL sends (MULTI, SET, ZADD, EXEC in one write) and
    blocks on the replies. Same keys, URLs and counts as tus-bench's
    redis-set; in database 9, emptied afterwards. The peak memory is the
    program's own, as it reports it."""
    program = redis_set_transaction_program()
    port = url.rsplit(':', 1)[1].split('/')[0]
    try:
        out = subprocess.run([program, port, str(REDIS_DB), str(entries), str(ops)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
    finally:
        subprocess.run(['redis-cli', '-p', port, '-n', str(REDIS_DB), 'flushdb'], check=True, capture_output=True)
    rate, peak_kib = out.split()
    report(workload, 'hiredis', entries, ops, 'ops_per_s', float(rate), peak_bytes=int(peak_kib) * 1024)

def md5_fingerprint(workload, ops, path):
    from tusclient.fingerprint.fingerprint import Fingerprint
    fingerprint = Fingerprint()
    with open(path, 'rb') as fs:
        fingerprint.get_fingerprint(fs)  # warm the page cache
    start = time.perf_counter()
    for _ in range(ops):
        with open(path, 'rb') as fs:
            fingerprint.get_fingerprint(fs)
    elapsed = time.perf_counter() - start
    # The hash alone: MD5 (OpenSSL's, behind hashlib) of the 64 KiB block the
    # fingerprint reads, already in memory. No fingerprint of the block can
    # be faster than this.
    with open(path, 'rb') as fs:
        block = fs.read(Fingerprint.BLOCK_SIZE)
    start = time.perf_counter()
    for _ in range(ops):
        hashlib.md5(block).hexdigest()
    hashing = time.perf_counter() - start
    report(workload, 'tuspy', 0, ops, 'ops_per_s', ops / elapsed, file_bytes=os.path.getsize(path),
           limit_ops_per_s=round(ops / hashing, 1))

def sha256_whole(workload, ops, path):
    size = os.path.getsize(path)
    start = time.perf_counter()
    for _ in range(ops):
        subprocess.run(['sha256sum', path], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    report(workload, 'sha256sum', 0, ops, 'bytes_per_s', size * ops / elapsed, children=True, file_bytes=size)

def main(argv):
    workload, args = argv[0], dict(zip(argv[1::2], argv[2::2]))
    entries = int(args.get('--entries', 1000))
    ops = int(args.get('--ops', 200))
    if workload == 'sqlite-template':
        sqlite_template(entries, args['--file'])
    elif workload in ('json-set', 'json-get'):
        json_store(workload, entries, ops, args['--dir'])
    elif workload in ('sqlite-set', 'sqlite-get'):
        sqlite_store(workload, entries, ops, args['--dir'], args.get('--template'))
    elif workload in ('redis-set', 'redis-get'):
        redis_benchmark(workload, entries, ops, args['--url'])
    elif workload == 'redis-set-transaction':
        redis_set_transaction(workload, entries, ops, args['--url'])
    elif workload == 'build-redis-set-transaction':
        print(redis_set_transaction_program())
    elif workload == 'md5-fingerprint':
        md5_fingerprint(workload, ops, args['--file'])
    elif workload == 'sha256-whole':
        sha256_whole(workload, int(args.get('--ops', 1)), args['--file'])
    else:
        sys.exit('unknown workload ' + workload)

main(sys.argv[1:])
