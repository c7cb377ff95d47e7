// Reads two V8 heap snapshots (.heapsnapshot files) and reports what grew between them, grouped by
// constructor name for objects and by node type otherwise (closures, contexts, strings, arrays,
// code, ArrayBuffer backing stores). Divided by the sessions opened between the two snapshots, this shows which objects make up
// the heap cost of one session.
import { readFileSync } from 'node:fs';

interface SnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  /** Constructor name for objects, otherwise the node type in brackets, e.g. "(closure)". */
  group: string;
  count: number;
  selfBytes: number;
}

export interface HeapGrowth {
  /** Growth per session of each group, largest self size first. */
  groups: HeapGroup[];
  /** Growth of every node's self size per session. */
  totalSelfBytes: number;
}

/** Group names of V8's internal node names that would otherwise read as objects. */
const INTERNAL_NAMES: Record<string, string> = {
  'system / Context': '(context)',
  // The backing stores live outside the V8 heap; process.memoryUsage() counts them as external.
  'system / JSArrayBufferData': '(ArrayBuffer backing store)',
};

function groupOf(type: string, name: string): string {
  const internal = INTERNAL_NAMES[name];
  if (internal !== undefined) return internal;
  if (type === 'object' || type === 'native') return name;
  if (type === 'concatenated string' || type === 'sliced string') return '(string)';
  return `(${type})`;
}

/** Sums node count and self size per group of one snapshot file. */
export function summarizeSnapshot(file: string): Map<string, { count: number; selfBytes: number }> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as SnapshotFile;
  const fields = parsed.snapshot.meta.node_fields;
  const typeNames = parsed.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; selfBytes: number }>();
  const { nodes, strings } = parsed;
  for (let offset = 0; offset < nodes.length; offset += stride) {
    const key = groupOf(typeNames[nodes[offset + typeAt]!] ?? 'unknown', strings[nodes[offset + nameAt]!] ?? '');
    const entry = groups.get(key);
    if (entry) {
      entry.count += 1;
      entry.selfBytes += nodes[offset + sizeAt]!;
    } else {
      groups.set(key, { count: 1, selfBytes: nodes[offset + sizeAt]! });
    }
  }
  return groups;
}

/** Growth per session from the `before` snapshot to the `after` snapshot, `sessions` apart. */
export function heapGrowthPerSession(before: string, after: string, sessions: number): HeapGrowth {
  const first = summarizeSnapshot(before);
  const last = summarizeSnapshot(after);
  const groups: HeapGroup[] = [];
  let totalSelfBytes = 0;
  for (const [group, entry] of last) {
    const previous = first.get(group) ?? { count: 0, selfBytes: 0 };
    const selfBytes = (entry.selfBytes - previous.selfBytes) / sessions;
    totalSelfBytes += selfBytes;
    groups.push({ group, count: (entry.count - previous.count) / sessions, selfBytes });
  }
  for (const [group, entry] of first) {
    if (!last.has(group)) totalSelfBytes -= entry.selfBytes / sessions;
  }
  groups.sort((a, b) => b.selfBytes - a.selfBytes);
  return { groups, totalSelfBytes };
}
