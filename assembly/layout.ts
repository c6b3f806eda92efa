// The shared-memory layout of a ringlock engine, drawn once. This file is
// compiled twice: by asc into the engine and by tsc into the bindings, so the
// two sides cannot disagree. It holds integer constants only (no data).
//
// Memory (one shared WebAssembly.Memory, byte offsets):
//
//   0           HEADER_SIZE                                       memory.size
//   +-----------+--------------------------------------------------+
//   | header    | heap: 32-byte aligned blocks of 32 << class bytes |
//   +-----------+--------------------------------------------------+
//
// Header (u32 words, all accessed atomically):
//
//   off  field        writer
//   0    MAGIC        the first init() (compare-and-swap from 0)
//   4    VERSION      the first init()
//   8    ALLOC        allocator spin word: 0 free, 1 held, 2 held + sleepers
//   12   TOP          bump pointer; written only while ALLOC is held
//   16   MAXBYTES     the first init(); never changes
//   20   FREE[0..5)   free-list heads per size class; only while ALLOC is held
//   40   THREADS      head of the thread-record list; only while ALLOC is held
//   44   LIVE         number of live blocks; only while ALLOC is held
//   48   READY        1 once the header is initialised
//   52   LOCKS        head of the registry of live locks; only while ALLOC is held
//   56   ID0, ID1     random engine identity, written by the first init()
//   64   SHARED       0 until the memory is first handed to another thread
//                     (set by the binding's share(), never cleared). While 0,
//                     only one thread can reach the memory, so the engine skips
//                     its spin words and uses plain stores for its inboxes.
//   68..128           reserved
//
// A pointer is a byte offset into the memory; 0 is null (the header).

export const MAGIC_VALUE = 0x524c4b31; // "RLK1"
export const LAYOUT_VERSION = 1;
export const PAGE = 65536;

export const H_MAGIC = 0;
export const H_VERSION = 4;
export const H_ALLOC = 8;
export const H_TOP = 12;
export const H_MAXBYTES = 16;
export const H_FREE = 20;
export const SIZE_CLASSES = 5; // 32, 64, 128, 256, 512 bytes
export const H_THREADS = H_FREE + SIZE_CLASSES * 4;
export const H_LIVE = H_THREADS + 4;
export const H_READY = H_LIVE + 4;
export const H_LOCKS = H_READY + 4;
export const H_ID = H_LOCKS + 4; // two u32 words
export const H_SHARED = H_ID + 8;
export const HEADER_SIZE = 128;

export const BLOCK_SHIFT = 5; // smallest block: 32 bytes
export const MIN_BLOCK = 1 << BLOCK_SHIFT;

// Waiter/hold node: one 32-byte block per request that is queued or held.
//
//   off  field   meaning                                   writer
//   0    CTL     state | abandoned << 2 | mode << 3 | gen << 8
//                                                          only under the lock's WORD
//   4    LOCK    lock this node belongs to                 at allocation, by the owner
//   8    PREV    queue link (WAITING only)                 under the lock's WORD
//   12   NEXT    queue link while WAITING; inbox link once
//                GRANTED (pushed by the granter, popped by the owner thread)
//   16   OWNER   thread record of the requesting thread    at allocation, by the owner
//   20   WEIGHT  requested weight                          at allocation, by the owner
//   24   HPREV   the lock's hold list (HELD only)           under the lock's WORD
//   28   HNEXT
//
// CTL state table:
//   FREE    node is on a free list; gen was bumped when it got there
//   WAITING queued on LOCK; only WAITING -> HELD (grant) or -> FREE (cancel)
//   HELD    granted; only HELD -> FREE (release or reap)
export const N_CTL = 0;
export const N_LOCK = 4;
export const N_PREV = 8;
export const N_NEXT = 12;
export const N_OWNER = 16;
export const N_WEIGHT = 20;
export const N_HPREV = 24;
export const N_HNEXT = 28;
export const NODE_SIZE = 32;

export const ST_FREE = 0;
export const ST_WAITING = 1;
export const ST_HELD = 2;
export const CTL_STATE_MASK = 3;
export const CTL_ABANDONED = 4;
export const CTL_MODE_SHIFT = 3;
export const CTL_MODE_MASK = 31;
export const CTL_GEN_SHIFT = 8;

// Lock: 56 bytes of header, then one u32 held weight per mode.
//
//   off  field     meaning                                  writer
//   0    WORD      internal spin word: 0 free, 1 held,      any thread (cmpxchg)
//                  2 held + sleepers
//   4    TABLE     mode table (immutable, ref-counted)      lockNew
//   8    MASK      bit m set iff HELD[m] > 0                 under WORD
//   12   HEAD      first waiter (0: queue empty)            under WORD
//   16   TAIL      last waiter                              under WORD
//   20   NWAIT     number of waiters                        under WORD
//   24   REFS      handles to this lock in all threads      atomic add
//   28   FLAGS     bit 0: a holder died (abandoned)         under WORD
//   32   VERSION   bumped whenever a try could newly pass   under WORD (atomic add)
//   36   WATCH     threads parked on VERSION                atomic add
//   40   NHOLD     number of HELD nodes                     under WORD
//   44   HOLDS     head of the hold list (HPREV/HNEXT)      under WORD
//   48   LPREV     registry of live locks                   under header ALLOC
//   52   LNEXT
//   56   HELD[n]   weight held per mode                     under WORD
//
// "under WORD" fields are read and written with plain accesses while WORD is
// held (its cmpxchg/xchg order them); lock-free readers (the JS getters) use
// atomic loads and may see a value one step old.
export const L_WORD = 0;
export const L_TABLE = 4;
export const L_MASK = 8;
export const L_HEAD = 12;
export const L_TAIL = 16;
export const L_NWAIT = 20;
export const L_REFS = 24;
export const L_FLAGS = 28;
export const L_VERSION = 32;
export const L_WATCH = 36;
export const L_NHOLD = 40;
export const L_HOLDS = 44;
export const L_LPREV = 48;
export const L_LNEXT = 52;
export const L_HELD = 56;
export const LF_ABANDONED = 1;

// Mode table: immutable once published.
//
//   0    NMODES    number of modes (1..32)
//   4    REFS      locks using this table + handles in JS
//   8    CONFLICT[n]  conflict mask per mode (symmetric)
//   8+4n LIMIT[n]     weight limit per mode (>= 1)
export const T_NMODES = 0;
export const T_REFS = 4;
export const T_CONFLICT = 8;
export const MAX_MODES = 32;

// Thread record: one per attached thread (JS realm) per engine; 64 bytes.
//
//   off  field   meaning                                   writer
//   0    WAKE    bumped after every push to INBOX          granters (atomic add)
//   4    INBOX   stack of nodes granted to this thread     granters push (cmpxchg),
//                                                          owner takes all (xchg)
//   8    TID     caller-supplied id (worker threadId)      at attach
//   12   ALIVE   1 attached, 2 being reaped, 0 reaped      attach / reap
//   16   INSIDE  spin word this thread holds (see enterWord) owner only
//   20   NEXT    next thread record                        under header ALLOC
//   24   CACHE   free nodes kept by this thread            owner only
//   28   NCACHE  how many                                  owner only
//   32   HANDLES this thread's handles on shared locks     owner only (reaper once dead)
export const R_WAKE = 0;
export const R_INBOX = 4;
export const R_TID = 8;
export const R_ALIVE = 12;
export const R_INSIDE = 16;
export const R_NEXT = 20;
export const R_CACHE = 24;
export const R_NCACHE = 28;
export const R_HANDLES = 32;
export const THREAD_SIZE = 64;

// Handle: one per (thread, shared lock) pair, holding one of the lock's REFS,
// so that the reaper can drop the references of a thread that died. A 32-byte
// block of class 0 (word 0 is left alone: it is a node's CTL and generation).
//   8    LOCK   the lock referenced                        handleNew
//   12   PREV   the thread's handle list                   owner thread only
//   16   NEXT
export const HD_LOCK = 8;
export const HD_PREV = 12;
export const HD_NEXT = 16;
export const THREAD_CACHE_MAX = 64;

// acquire() results: a node pointer (32-byte aligned, so the low bits are free)
// with QUEUED_BIT set when the request had to wait, or an error code below.
export const QUEUED_BIT = 1;

// Engine result codes: one enum, mapped to error classes in bindings/errors.ts.
export const OK = 0;
export const ERR_NOMEM = -1; // the configured memory maximum is reached
export const ERR_STALE = -2; // handle names no live grant/waiter
export const ERR_MODE = -3; // mode index out of range
export const ERR_WEIGHT = -4; // weight < 1 or above the mode's limit
export const ERR_GRANTED = -5; // cancel lost: the grant won the race
export const ERR_BUSY = -6; // lock still has holders or waiters
export const ERR_RETRY = -7; // reap: a word it needs is busy; call again later
