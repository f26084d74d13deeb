export interface SeqRange {
  from: number;
  to: number;
}

/** One producer's ledger: it made seqs 1..lastSeq; `dropped` are ranges it reported as outbox.dropped. */
export interface ProducerLedger {
  agent: string;
  lastSeq: number;
  dropped?: SeqRange[];
}

export interface Tally {
  produced: number;
  /** Distinct (agent, seq) of the ledgers found in the store. */
  stored: number;
  /** Seqs produced, not stored, and not covered by an outbox.dropped report. */
  lost: number;
  /** Extra copies of a stored (agent, seq). */
  duplicated: number;
  /** Seqs an outbox gave up on purpose (full outbox or disk) and reported as outbox.dropped. */
  reportedDropped: number;
  /** Stored seqs outside 1..lastSeq (a seq the producer never made). */
  unexpected: number;
  /** The first few lost seqs per agent, for the failure message. */
  lostSample: Record<string, number[]>;
}

export interface StoredRecordView {
  agent: string;
  receivedAt: number;
  historical: boolean;
  record: {
    seq: number;
    kind: string;
    type?: string;
    ts?: number;
    start?: number;
    detail?: Record<string, unknown>;
  };
}

export function storedRecords(
  api: string,
  token: string,
  want: (agent: string) => boolean,
): Promise<Map<string, StoredRecordView[]>>;
export function droppedRanges(records: StoredRecordView[]): SeqRange[];
export function tally(ledgers: ProducerLedger[], stored: Map<string, StoredRecordView[]>): Tally;
