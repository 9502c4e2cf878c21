"""Turns the measurements Benchmarks/compare kept into its markdown table.

    python report.py RESULTS.jsonl ROW...

RESULTS holds one JSON object a line, each a tus-bench or reference output
with two more fields: `label` (the row it belongs to) and `side` ("ours" or
"reference"). Each ROW is one argument, fields separated by tabs:

    ratio   LABEL TARGET FIELD
        ours ÷ reference, medians of FIELD for LABEL.
    raw     ROW
        a row already made (by references/upload.py): shown as it is, and a
        miss when it says MISSED.
    note    TEXT
        a note under the table (references/upload.py's notes on its rows).
    growth  LABEL TARGET FIELD BIG SMALL SCALE [ENGINE_BIG ENGINE_SMALL]
        how ours keeps up as the input grows: median FIELD of row BIG ÷ that
        of row SMALL, times SCALE (for a workload whose cost is meant to grow
        linearly, SCALE is the size ratio, so 1.0 means exactly linear).
        ENGINE_BIG and ENGINE_SMALL are the same work through the engine
        alone (such as SQLite's C API), measured in turn with ours.

A growth row with ENGINE_BIG and ENGINE_SMALL is marked "limit" when the
engine's own growth is below the target: it counts as met only when ours
keeps at least LIMIT_SHARE of the engine's ratio.

A ratio row whose reference lines carry `limit_FIELD` (what the work itself
allows on this machine, such as the hashing alone) and whose target asks for
more than that limit is marked "limit": the target cannot be met by any
implementation here. It counts as met only when ours reaches at least
LIMIT_SHARE of the limit.

A ratio row that also has reference measurements labelled "LABEL, same
commands synchronously" (Benchmarks/compare's SYNC=, for the Redis set: the
store's own transaction from hiredis, blocking) gets a note comparing ours
and the reference with them.

A ratio row that also has ours's measurements labelled "LABEL, calls from
the pool" (Benchmarks/compare's POOL=, for the Redis rows, whose ours calls
from a task on the store's executor) gets a note with ours's rate when the
same calls come from a task of Swift concurrency's pool.

Prints the table and notes; exits 1 when a row misses its target.
"""
import json
import statistics
import sys

LIMIT_SHARE = 0.8


def load(path):
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                record = json.loads(line)
                if 'label' not in record:
                    continue  # an upload run: references/upload.py makes its rows itself
                runs.setdefault((record['label'], record['side']), []).append(record)
    return runs


def median(runs, label, side, field):
    values = [r[field] for r in runs.get((label, side), []) if field in r]
    if not values:
        sys.exit('report: no %s measurements of %s for %r' % (side, field, label))
    return statistics.median(values)


def shown(value, field):
    if field == 'bytes_per_s':
        return '%.0f MB/s' % (value / 1e6)
    if field == 'seconds':
        return '%.2f s' % value
    if field.endswith('bytes'):
        return '%.0f MiB' % (value / 2**20)
    return '{:,.0f} ops/s'.format(value)


def main(argv):
    runs = load(argv[0])
    lines = ['| workload | ours | reference | ratio | target | ok |', '|---|---:|---:|---:|---:|---|']
    notes = []
    missed = False
    for spec in argv[1:]:
        if spec.startswith('note\t'):
            notes.append(spec[5:])
            continue
        if spec.startswith('raw\t'):
            row = spec[4:]
            lines.append(row)
            missed = missed or '| MISSED |' in row
            continue
        kind, label, target, field, *rest = spec.split('\t')
        target = float(target)
        if kind == 'ratio':
            ours = median(runs, label, 'ours', field)
            reference = median(runs, label, 'reference', field)
            ratio = ours / reference
            ok = 'yes' if ratio >= target else 'MISSED'
            limits = [r['limit_' + field] for r in runs.get((label, 'reference'), []) if 'limit_' + field in r]
            if ratio < target and limits:
                limit = statistics.median(limits)
                if target * reference > limit:
                    share = ours / limit
                    ok = 'limit' if share >= LIMIT_SHARE else 'MISSED'
                    notes.append(
                        '- %s: the target asks for %s, but the work alone allows at most %s on this '
                        'machine (%.2f× the reference); ours reaches %.0f %% of that limit.'
                        % (label, shown(target * reference, field), shown(limit, field), limit / reference, share * 100))
            synchronous = (label + ', same commands synchronously', 'reference')
            if synchronous in runs:
                same = median(runs, *synchronous, field)
                notes.append(
                    '- %s: the same commands as ours, in one write, from a client that blocks on the replies (%s), '
                    'in the same turns: %s, %.2f× the reference; ours is %.2f× that.'
                    % (label, runs[synchronous][0]['backend'], shown(same, field), same / reference, ours / same))
            pool = (label + ', calls from the pool', 'ours')
            if pool in runs:
                from_pool = median(runs, *pool, field)
                notes.append(
                    '- %s: ours makes its calls from a task on the store\'s executor, which waits for each reply '
                    'on the store\'s thread; the same calls from a task of Swift concurrency\'s pool (each reply '
                    'handed over by the store\'s waiting thread when it has not come as the call is written), '
                    'in the same turns: %s, %.2f× the reference.'
                    % (label, shown(from_pool, field), from_pool / reference))
            lines.append('| %s | %s | %s | %.2f | ≥%g | %s |'
                         % (label, shown(ours, field), shown(reference, field), ratio, target, ok))
        elif kind == 'growth':
            big, small, scale = rest[0], rest[1], float(rest[2])
            ours_big = median(runs, big, 'ours', field)
            ours_small = median(runs, small, 'ours', field)
            ratio = ours_big / ours_small * scale
            ok = 'yes' if ratio >= target else 'MISSED'
            if ratio < target and len(rest) == 5:
                engine_big = median(runs, rest[3], 'ours', field)
                engine_small = median(runs, rest[4], 'ours', field)
                engine = engine_big / engine_small * scale
                if engine < target:
                    share = ratio / engine
                    ok = 'limit' if share >= LIMIT_SHARE else 'MISSED'
                    notes.append(
                        '- %s: the target asks for %g, but the engine alone (the same look-ups through its C API, '
                        'from a fresh copy of the same file, taking turns with ours: %s and %s) keeps %.2f '
                        'on this machine; ours keeps %.2f, %.0f %% of that.'
                        % (label, target, shown(engine_big, field), shown(engine_small, field), engine, ratio,
                           share * 100))
                else:
                    notes.append(
                        '- %s: the engine alone (the same look-ups through its C API, from a fresh copy of the '
                        'same file, taking turns with ours: %s and %s) keeps %.2f on this machine; ours keeps %.2f.'
                        % (label, shown(engine_big, field), shown(engine_small, field), engine, ratio))
            lines.append('| %s | %s | %s | %.2f | ≥%g | %s |'
                         % (label, shown(ours_big, field), shown(ours_small, field), ratio, target, ok))
        else:
            sys.exit('report: unknown row kind %r' % kind)
        missed = missed or ok == 'MISSED'
    print('\n'.join(lines))
    if any(spec.startswith('growth\t') for spec in argv[1:]):
        print()
        print('Growth rows compare ours with ours: the larger input under "ours", the smaller under '
              '"reference"; for a cost meant to grow linearly, the ratio is scaled by the size ratio.')
    if notes:
        print()
        print('\n'.join(notes))
    return 1 if missed else 0


sys.exit(main(sys.argv[1:]))
