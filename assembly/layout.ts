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
// Header (u32 words, all accessed atomically or under ALLOC):
//
//   off  field        writer
//   0    MAGIC        the first init() (compare-and-swap from 0)
//   4    VERSION      the first init()
//   8    ALLOC        internal word (words.ts) guarding the allocator, the
//                     registries and every REFS count
//   12   TOP          bump pointer; under ALLOC
//   16   MAXBYTES     the first init(); never changes
//   20   FREE[0..5)   free-list heads per size class; under ALLOC
//   40   THREADS      head of the thread-record list; under ALLOC
//   44   LIVE         number of live blocks; under ALLOC
//   48   READY        1 once the header is initialised
//   52   LOCKS        head of the registry of live locks; under ALLOC
//   56   ID0, ID1     random engine identity, written by the first init()
//   64   SHARED       0 until the memory is first handed to another thread
//                     (set by the binding's share(), never cleared). While 0,
//                     only one thread can reach the memory, so the engine skips
//                     its internal words' atomics and its inboxes' atomics.
//   68   REAP         internal word held by the one thread reaping dead ones
//   72   TABLES       head of the registry of mode tables; under ALLOC
//   76   POISON       0, or the reason code of a state that recovery could
//                     not repair: every later call fails with ERR_POISONED
//   80   ATTACHED     bumped (and notified) by a binding after a thread that
//                     browsers watch through Web Locks attaches or takes its
//                     life lock (bindings/deaths.ts); never read by the engine
//   84   NAMES        bucket array of the name registry (names.ts), made on
//                     first use; under ALLOC
//   88..128           reserved
//
// A pointer is a byte offset into the memory; 0 is null (the header).

export const MAGIC_VALUE = 0x524c4b32; // "RLK2"
export const LAYOUT_VERSION = 2;
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
export const H_REAP = H_SHARED + 4;
export const H_TABLES = H_REAP + 4;
export const H_POISON = H_TABLES + 4;
export const H_ATTACHED = H_POISON + 4;
export const H_NAMES = H_ATTACHED + 4;
export const HEADER_SIZE = 128;

export const BLOCK_SHIFT = 5; // smallest block: 32 bytes
export const MIN_BLOCK = 1 << BLOCK_SHIFT;

// Internal words (ALLOC, REAP, every lock's WORD) are stamped with their
// holder: 0 free, else the holder's thread record | WORD_SLEEPERS. See words.ts.
export const WORD_SLEEPERS = 1;
export const WORD_OWNER_MASK = ~31;

// Waiter/hold node: one 32-byte block per request that is queued or held.
//
//   off  field   meaning                                   writer
//   0    CTL     state | abandoned << 2 | mode << 3 | gen << 8
//                                                          under the lock's WORD
//   4    LOCK    lock this node belongs to; while FREE,    owner, before publishing
//                the cache / free-list link
//   8    PREV    queue link (derived: repair rebuilds it)  under WORD
//   12   NEXT    queue link while WAITING (authoritative); inbox link once
//                GRANTED (pushed by the granter, taken by the owner thread)
//   16   OWNER   thread record of the requesting thread    owner, before publishing
//   20   WEIGHT  requested weight                          owner, before publishing
//   24   HPREV   hold list back link (derived)             under WORD
//   28   HNEXT   hold list link (authoritative)            under WORD
//
// CTL state table:
//   FREE    in a thread's cache or a free list, or in flight (named by its
//           thread's intent record); gen was bumped when it got there
//   WAITING queued on LOCK; only WAITING -> HELD (grant) or -> FREE (cancel)
//   HELD    granted; only HELD -> FREE (release or reap) or -> STOLEN
//   STOLEN  still in the hold list, no longer counted in HELD[] or MASK: another
//           request took the lock with steal (Web Locks); its owner was told
//           (RESCAN) and frees it with release(); only STOLEN -> FREE
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
export const ST_STOLEN = 3;
export const CTL_STATE_MASK = 3;
export const CTL_ABANDONED = 4;
export const CTL_MODE_SHIFT = 3;
export const CTL_MODE_MASK = 31;
export const CTL_GEN_SHIFT = 8;

// Lock: 56 bytes of header, then one u32 held weight per mode (a Mutex or an
// RWLock fits a 64-byte block).
//
//   off  field     meaning                                  writer
//   0    WORD      internal word (stamped with its holder)  any thread (words.ts)
//   4    TABLE     mode table (immutable, ref-counted)      lockNew
//   8    MASK      bit m set iff HELD[m] > 0 (derived)      under WORD
//   12   HEAD      first waiter (authoritative)             under WORD
//   16   TAIL      last waiter (derived)                    under WORD
//   20   NWAIT     number of waiters (derived)              under WORD
//   24   REFS      references: CREATOR's and handles'       under ALLOC
//   28   FLAGS     bit 0: a holder died (abandoned)         under WORD
//   32   VERSION   bumped whenever a try could newly pass   under WORD
//   36   WATCH     threads parked on VERSION                atomic add
//   40   CREATOR   thread whose creation reference is still  under ALLOC
//                  its own (not yet turned into a handle), or 0;
//                  for a named lock, its name entry | 1 (the entry holds
//                  one reference: see names.ts)
//   44   HOLDS     head of the hold list (authoritative)    under WORD
//   48   LPREV     registry of live locks                   under ALLOC
//   52   LNEXT
//   56   HELD[n]   weight held per mode (derived)           under WORD
//
// "Authoritative" fields are changed by single stores that commit a step;
// "derived" ones can be recomputed from them, which is how recovery repairs a
// lock whose WORD holder died (queue.ts, repairLock). Lock-free readers (the
// JS getters) use atomic loads and may see a value one step old.
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
export const L_CREATOR = 40;
export const L_HOLDS = 44;
export const L_LPREV = 48;
export const L_LNEXT = 52;
export const L_HELD = 56;
export const LF_ABANDONED = 1;

// Mode table: immutable once filled; in the TABLES registry.
//
//   0    NMODES    number of modes (1..32)
//   4    REFS      locks using it + its creator's reference    under ALLOC
//   8    CREATOR   thread holding the creator reference, or 0 under ALLOC
//   12   NEXT      TABLES registry link                        under ALLOC
//   16   CONFLICT[n]  conflict mask per mode (symmetric)
//   16+4n LIMIT[n]    weight limit per mode (>= 1)
export const T_NMODES = 0;
export const T_REFS = 4;
export const T_CREATOR = 8;
export const T_NEXT = 12;
export const T_CONFLICT = 16;
export const MAX_MODES = 32;

// Thread record: one per attached thread (JS realm) per engine; 512 bytes,
// 64-byte aligned. The first cache line holds what other threads read or
// write; the second what only the owner touches on every operation, so that
// threads spinning on a word's holder or granting to it do not slow it down.
//
//   off  field   meaning                                   writer
//   0    WAKE    bumped after every push to INBOX          granters (atomic add)
//   4    INBOX   stack of nodes granted to this thread     granters push (cmpxchg),
//                                                          owner takes all (xchg)
//   8    TID     caller-supplied id (worker threadId)      attach
//   12   ALIVE   state | tid << 2: FREE, ALIVE, DEAD       attach / markDead / reaper
//   16   RESCAN  1: a grant's delivery may have been lost; recoverers set it,
//                the owner clears it and rescans its waits
//   20   NEXT    next thread record (the list only grows)  attach (lock-free push)
//   24   HANDLES this thread's handles on shared locks     under ALLOC
//   28   CANBLOCK 1 if this thread may block in Atomics.wait attach
//   40   LIFE    its TID once the thread holds its life lock (a Web Lock that
//                watchers request to learn of its death; bindings/deaths.ts);
//                never read by the engine                  owner's binding
//   44   NAMEBUF a name entry this thread is filling (names.ts), or 0 owner; reapers once dead
//   64   CACHE   free nodes kept by this thread (chain via N_LOCK; authoritative)
//                                                          owner; reapers once dead
//   68   NCACHE  how many (derived)                        owner
//   72   OP      intent: the operation in flight (OP_*)    owner
//   76   ILOCK   intent: the lock it works on              owner
//   80   INODE   intent: the node it moves (its own, or a dead thread's)
//   84   IGRANT  intent: the node a grant loop is granting  owner, under WORD
//   88   IGEN    that node's generation                    owner, under WORD
//   92   UNDO_N  entries in the undo log of the ALLOC transaction in flight
//   128  UNDO[UNDO_MAX] (address, old value) pairs        owner, under ALLOC
export const R_WAKE = 0;
export const R_INBOX = 4;
export const R_TID = 8;
export const R_ALIVE = 12;
export const R_RESCAN = 16;
export const R_NEXT = 20;
export const R_HANDLES = 24;
export const R_CANBLOCK = 28;
export const R_LIFE = 40;
export const R_NAMEBUF = 44;
export const R_CACHE = 64;
export const R_NCACHE = 68;
export const R_OP = 72;
export const R_ILOCK = 76;
export const R_INODE = 80;
export const R_IGRANT = 84;
export const R_IGEN = 88;
export const R_UNDO_N = 92;
export const R_UNDO = 128;
export const UNDO_MAX = 48;
export const THREAD_SIZE = 512; // = R_UNDO + 8 * UNDO_MAX
export const THREAD_ALIGN = 64;

// R_ALIVE holds state | tid << 2.
export const TS_MASK = 3;
export const TS_ALIVE = 1;
export const TS_DEAD = 2;

// Intent ops (R_OP). Written before the first shared write of an operation
// and cleared after its last; see queue.ts and reaper.ts for what a recoverer
// does with each.
export const OP_NONE = 0;
export const OP_REQUEST = 1; // INODE: the caller's new node for ILOCK
export const OP_RELEASE = 2; // INODE: the caller's held node
export const OP_CANCEL = 3; // INODE: the caller's waiting node
export const OP_REAPNODE = 4; // INODE: a dead thread's node being removed by a reaper

// Handle: one per (thread, shared lock) pair, holding one of the lock's REFS,
// so that the reaper can drop the references of a thread that died. A 32-byte
// block of class 0 (word 0 is left alone: it is a node's CTL and generation).
//   8    LOCK   the lock referenced                        under ALLOC
//   12   PREV   the thread's handle list                   under ALLOC
//   16   NEXT
export const HD_LOCK = 8;
export const HD_PREV = 12;
export const HD_NEXT = 16;
export const THREAD_CACHE_MAX = 64;

// Named locks (names.ts): NAMES points to NAME_BUCKETS bucket heads (one
// 512-byte block); each live name has an entry: one block of the smallest
// class that holds the header and the name (64 bytes for up to 12 code
// units), or, for a name longer than NAME_FIRST_UNITS, a 512-byte block
// followed by 512-byte overflow blocks chained through word 4 (where a free
// block keeps its free-list link, so the overflow is freed by one splice).
// An entry is immutable once bound, but for NEXT.
//
//   off  field   meaning                                   writer
//   0    NEXT    bucket chain                              under ALLOC
//   4    MORE    first overflow block, or 0                nameAlloc
//   8    HASH    the binding's 32-bit hash of the name     owner, before nameBind
//   12   LEN     name length in UTF-16 code units          owner, before nameBind
//   16   KIND    the binding's kind code (Mutex, RWLock..) owner, before nameBind
//   20   LOCK    the named lock (the entry holds one ref)  nameBind, under ALLOC
//   24   XKIND   when nameBind finds the name bound to another kind or table:
//   28   XMODES  that lock's kind, mode count and first    nameBind, under ALLOC
//   32   XLIMIT  mode's limit (for the binding's error)
//   36   CAP     code units the entry's blocks hold         nameAlloc
//   40   CHARS   code units, continued in overflow blocks at offset 8
export const NAME_BUCKETS = 128;
export const NAME_BLOCK = 512;
export const NAME_CLASS = 4;
export const E_NEXT = 0;
export const E_MORE = 4;
export const E_HASH = 8;
export const E_LEN = 12;
export const E_KIND = 16;
export const E_LOCK = 20;
export const E_XKIND = 24;
export const E_XMODES = 28;
export const E_XLIMIT = 32;
export const E_CAP = 36;
export const E_CHARS = 40;
export const E_MORE_CHARS = 8;
/** Code units in an entry's first block, and in each overflow block. */
export const NAME_FIRST_UNITS = (NAME_BLOCK - E_CHARS) >> 1;
export const NAME_MORE_UNITS = (NAME_BLOCK - E_MORE_CHARS) >> 1;

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
export const ERR_RETRY = -7; // an internal word stayed busy (perhaps held by a dead
//                              thread not yet reaped): nothing was done, call again later
export const ERR_POISONED = -8; // recovery met a state it could not repair
export const ERR_SHAPE = -11; // the name is bound to a lock of another kind or mode table

// ---------------------------------------------------------------- sync objects
// Event, Notify, CountdownEvent, Latch, Barrier, CapacityLimiter and a
// Condition's wait queue are ordinary locks (one queue discipline) whose
// one-mode table is private to the lock and carries the object's state in
// the table block's spare words (a one-mode table uses 24 of its 64 bytes;
// tableNew() zeroes S_KIND so that a plain one-mode table reads as kind 0).
// The mode's LIMIT is dynamic: sync.ts sets it, under the lock's WORD, to
// open (all waiters granted), close (0), or admit exactly as many grants as
// the state change allows; a waiter is a request of weight 1 that the
// binding releases as soon as it is granted. See sync.ts for the state each
// kind keeps and the redo record that makes every change recoverable.
//
//   off  field     meaning                                    writer
//   20   LIMIT[0]  (the table's limit) dynamic                under the lock's WORD
//   24   KIND      SK_* below; 0 for a plain one-mode table   syncTable (before use)
//   28   VALUE     event set / countdown value / latch count / barrier arrivals
//                                                             under the lock's WORD
//   32   PHASE     barrier phases completed                   under the lock's WORD
//   36   BROKEN    latch or barrier broken (1)                under the lock's WORD
//   40   PARTIES   barrier parties                            syncTable (immutable)
export const S_KIND = 24;
export const S_VALUE = 28;
export const S_PHASE = 32;
export const S_BROKEN = 36;
export const S_PARTIES = 40;
export const S_LIMIT = T_CONFLICT + 4; // LIMIT[0] of a one-mode table

export const SK_NONE = 0;
export const SK_EVENT = 1;
export const SK_NOTIFY = 2;
export const SK_COUNTDOWN = 3;
export const SK_LATCH = 4;
export const SK_BARRIER = 5;
export const SK_LIMITER = 6;
export const SK_COND = 7;

// syncOp() operations.
export const SO_SET = 1; // event: set
export const SO_CLEAR = 2; // event: clear
export const SO_NOTIFY_ONE = 3; // notify: wake the head, or store one permit
export const SO_NOTIFY_ALL = 4; // notify: wake every current waiter
export const SO_ADD = 5; // countdown: value += arg (signed); below 0 is ERR_RANGE
export const SO_ZERO = 6; // countdown: value = 0
export const SO_COUNT_DOWN = 7; // latch: count -= arg (not below 0)
export const SO_BREAK = 8; // latch, barrier: break (every waiter fails)
export const SO_RESET = 9; // barrier: fail the current waiters, start afresh
export const SO_LIMIT = 10; // limiter: limit = arg (u32)

// Thread record fields of the sync operations (the rest of the record is in
// the table above). Owner only while alive; reapers once DEAD.
//   32   OUT_INDEX  syncArrive's result: the arrival index       owner
//   36   OUT_PHASE  syncArrive's result: the phase arrived in    owner
//   96   RS_VALUE .. RS_FLAGS: the redo record of OP_SYNC (the state a
//        sync operation writes, computed before its first write)
//   120  ILOCK2     second lock of a Condition operation (the mutex)
export const R_OUT_INDEX = 32;
export const R_OUT_PHASE = 36;
export const RS_VALUE = 96;
export const RS_PHASE = 100;
export const RS_BROKEN = 104;
export const RS_DURING = 108; // LIMIT while the grant loop runs
export const RS_AFTER = 112; // LIMIT after it
export const RS_FLAGS = 116; // RSF_* below
export const R_ILOCK2 = 120;
export const RSF_ABANDON = 1; // the batch the grant loop grants is told it failed (CTL_ABANDONED)
export const RSF_ENQUEUE = 2; // INODE joins the queue (syncArrive)

// Intent ops of the sync operations (R_OP; see sync.ts).
export const OP_SYNC0 = 5; // ILOCK locked or about to be; INODE (or 0) popped; nothing written to ILOCK yet
export const OP_SYNC = 6; // the redo record is complete: a reaper that seizes ILOCK from us applies it
export const OP_CONDWAIT = 7; // INODE: our held node on ILOCK2 (mutex) moving to ILOCK's (condition's) queue
export const OP_CONDMOVE = 8; // INODE (gen in IGEN): a waiter moving from ILOCK's queue to ILOCK2's

export const ERR_RANGE = -9; // a countdown would go below 0 (nothing changed)
export const ERR_BROKEN = -10; // the latch or barrier is broken
