// The best a pure-JS FIFO mutex can do: a flag, an array-free singly linked
// queue of resolvers, and no allocation on the uncontended path (one shared,
// already resolved Promise). It is the reference the benchmark holds ringlock
// to: anything slower than this is paying for something this does not do.
//
// Ownership passes at release time (the head is dequeued and stays "locked"),
// so a request arriving between a release and the waiter's resumption queues
// behind it: strict FIFO, no barging.

const RESOLVED = Promise.resolve();

class Node {
  constructor(resolve) {
    this.resolve = resolve;
    this.next = null;
  }
}

export class MinimalMutex {
  locked = false;
  head = null;
  tail = null;

  /** Resolves (with undefined) once the lock is held; call release() after. */
  acquire() {
    if (!this.locked) {
      this.locked = true;
      return RESOLVED;
    }
    return new Promise((resolve) => {
      const n = new Node(resolve);
      if (this.tail === null) this.head = n;
      else this.tail.next = n;
      this.tail = n;
    });
  }

  tryAcquire() {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  release() {
    const h = this.head;
    if (h === null) {
      this.locked = false;
      return;
    }
    this.head = h.next;
    if (this.head === null) this.tail = null;
    h.resolve();
  }

  async run(fn) {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

// The same lock with a timeout on every acquire: a doubly linked queue so a
// timed-out waiter unlinks itself in O(1) and is never granted afterwards.
class TimedNode {
  constructor(resolve, reject) {
    this.resolve = resolve;
    this.reject = reject;
    this.prev = null;
    this.next = null;
    this.timer = undefined;
    this.queued = true;
  }
}

export class MinimalTimedMutex {
  locked = false;
  head = null;
  tail = null;

  acquire(timeout) {
    if (!this.locked) {
      this.locked = true;
      return RESOLVED;
    }
    return new Promise((resolve, reject) => {
      const n = new TimedNode(resolve, reject);
      n.prev = this.tail;
      if (this.tail === null) this.head = n;
      else this.tail.next = n;
      this.tail = n;
      n.timer = setTimeout(() => this.#expire(n, timeout), timeout);
    });
  }

  #unlink(n) {
    n.queued = false;
    if (n.prev === null) this.head = n.next;
    else n.prev.next = n.next;
    if (n.next === null) this.tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = n.next = null;
  }

  #expire(n, timeout) {
    if (!n.queued) return;
    this.#unlink(n);
    const e = new Error(`timed out after ${timeout} ms`);
    e.name = "TimeoutError";
    n.reject(e);
  }

  release() {
    const h = this.head;
    if (h === null) {
      this.locked = false;
      return;
    }
    this.#unlink(h);
    clearTimeout(h.timer);
    h.resolve();
  }
}
