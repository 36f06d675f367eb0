// The module's memory manager and garbage collector. AssemblyScript's minimal runtime is TLSF plus a stop-the-world
// mark-and-sweep collector (~lib/rt/tcms); scripts/filter-runtime.mjs puts this file in that collector's place, so
// the compiler still builds the minimal runtime's way (no shadow stack, no write barrier). The collection model is
// the one collector.ts relies on: mark from the globals and pinned objects, then sweep, only when asked, between
// exports. What differs is where a freed small block goes: onto a free list for its exact size, reused as it is,
// most recently freed first, instead of back to TLSF. TLSF splits a larger free block on every allocation and
// merges neighbours on every free, each touching memory away from the object; per request that was about a sixth
// of the module's time. Blocks over SMALL_LIMIT (bodies, large replies) still come from and go to TLSF, and so do
// the listed blocks once they hold more than FREE_LIST_BUDGET after a sweep.
import { BLOCK, BLOCK_OVERHEAD, OBJECT_OVERHEAD, OBJECT_MAXSIZE, TOTAL_OVERHEAD } from "~lib/rt/common";
import "~lib/rt/tlsf";

/** A managed object's header; rtId and rtSize sit where the standard library reads them. */
@unmanaged class Header extends BLOCK {
  /** The next object in the same ring, with the object's mark in the two low bits (headers are aligned). */
  link: usize;
  prev: Header;
  rtId: u32;
  rtSize: u32;
}

const MARK_BITS: usize = 3;
const PINNED: usize = 3;
/** Blocks up to this many bytes (TLSF's block size, header included) are recycled through the free lists. */
const SMALL_LIMIT: usize = 4096 - BLOCK_OVERHEAD;
/** Free list heads, one per 16-byte block size class up to SMALL_LIMIT. */
const FREE_LISTS_BYTES: usize = (((SMALL_LIMIT + BLOCK_OVERHEAD) >> 4) + 1) << alignof<usize>();
const FREE_LISTS: usize = memory.data(<i32>FREE_LISTS_BYTES);
const FREE_LISTS_END: usize = FREE_LISTS + FREE_LISTS_BYTES;
/** Bytes the free lists may keep across a collection; beyond it they are handed back to TLSF. */
const FREE_LIST_BUDGET: usize = 1 << 20;
let listedBytes: usize = 0;

/**
 * Between collections every heap object is on `pending` (or `pinned`); marking moves the reachable to `reached`,
 * and after the sweep the two rings trade places.
 */
let pending = changetype<Header>(memory.data(offsetof<Header>()));
let reached = changetype<Header>(memory.data(offsetof<Header>()));
const pinned = changetype<Header>(memory.data(offsetof<Header>()));
let ringsReady = false;
/** The mark of an object not reached yet; it flips at each collection, when the rings trade places. */
let unreached: usize = 0;
/** Static objects (below __heap_base) are never linked; the collection that last scanned one is stamped in `prev`. */
let collection: u32 = 0;

// ---- rings ----

function nextOf(obj: Header): Header {
  return changetype<Header>(obj.link & ~MARK_BITS);
}

function markOf(obj: Header): usize {
  return obj.link & MARK_BITS;
}

function emptyRing(ring: Header): void {
  ring.link = changetype<usize>(ring);
  ring.prev = ring;
}

function readyRings(): void {
  emptyRing(pending);
  emptyRing(reached);
  emptyRing(pinned);
  ringsReady = true;
}

function append(obj: Header, ring: Header, mark: usize): void {
  const last = ring.prev;
  obj.link = changetype<usize>(ring) | mark;
  obj.prev = last;
  last.link = changetype<usize>(obj) | markOf(last);
  ring.prev = obj;
}

function detach(obj: Header): void {
  const next = nextOf(obj);
  const prev = obj.prev;
  next.prev = prev;
  prev.link = changetype<usize>(next) | markOf(prev);
}

/** Scans the members of every object on `ring`, including those appended to it while it runs. */
function scanRing(ring: Header): void {
  for (let obj = nextOf(ring); obj != ring; obj = nextOf(obj)) __visit_members(changetype<usize>(obj) + TOTAL_OVERHEAD, 0);
}

/** Points the neighbours of a moved object at its new place. */
function relink(obj: Header): void {
  nextOf(obj).prev = obj;
  obj.prev.link = changetype<usize>(obj) | markOf(obj.prev);
}

// ---- blocks ----

function freeListOf(blockSize: usize): usize {
  return FREE_LISTS + ((blockSize + BLOCK_OVERHEAD) >> 4 << alignof<usize>());
}

/** A block of at least `size` bytes (TLSF's block size: header included, BLOCK_OVERHEAD not). */
function takeBlock(size: usize): Header {
  if (size > SMALL_LIMIT) return changetype<Header>(__alloc(size) - BLOCK_OVERHEAD);
  // TLSF block sizes are 16k - BLOCK_OVERHEAD, so each class holds blocks of exactly one size.
  const classSize = ((size + BLOCK_OVERHEAD + 15) & ~15) - BLOCK_OVERHEAD;
  const list = freeListOf(classSize);
  const first = load<usize>(list);
  if (first == 0) return changetype<Header>(__alloc(classSize) - BLOCK_OVERHEAD);
  store<usize>(list, changetype<Header>(first).link);
  listedBytes -= classSize;
  return changetype<Header>(first);
}

function capacityOf(obj: Header): usize {
  return obj.mmInfo & ~MARK_BITS;
}

function releaseBlock(obj: Header): void {
  const size = capacityOf(obj);
  if (size > SMALL_LIMIT) {
    __free(changetype<usize>(obj) + BLOCK_OVERHEAD);
    return;
  }
  const list = freeListOf(size);
  obj.link = load<usize>(list);
  store<usize>(list, changetype<usize>(obj));
  listedBytes += size;
}

function returnListedBlocks(): void {
  for (let list = FREE_LISTS; list < FREE_LISTS_END; list += sizeof<usize>()) {
    let block = load<usize>(list);
    while (block != 0) {
      const next = changetype<Header>(block).link;
      __free(block + BLOCK_OVERHEAD);
      block = next;
    }
    store<usize>(list, 0);
  }
  listedBytes = 0;
}

// ---- the runtime interface the compiler and the standard library call ----

// @ts-ignore: decorator
@global @unsafe
export function __new(size: usize, id: i32): usize {
  if (size > OBJECT_MAXSIZE) throw new Error("allocation too large");
  if (!ringsReady) readyRings();
  const obj = takeBlock(OBJECT_OVERHEAD + size);
  obj.rtId = id;
  obj.rtSize = <u32>size;
  append(obj, pending, unreached);
  return changetype<usize>(obj) + TOTAL_OVERHEAD;
}

// @ts-ignore: decorator
@global @unsafe
export function __renew(oldPtr: usize, size: usize): usize {
  const old = changetype<Header>(oldPtr - TOTAL_OVERHEAD);
  const oldSize = <usize>old.rtSize;
  if (oldPtr < __heap_base) {
    const copy = __new(size, old.rtId);
    memory.copy(copy, oldPtr, min(size, oldSize));
    return copy;
  }
  if (size > OBJECT_MAXSIZE) throw new Error("allocation too large");
  let obj = old;
  if (OBJECT_OVERHEAD + size > capacityOf(old)) {
    // A new block, never TLSF's realloc: one path for every size, and the one the tests cover.
    obj = takeBlock(OBJECT_OVERHEAD + size);
    memory.copy(changetype<usize>(obj) + BLOCK_OVERHEAD, changetype<usize>(old) + BLOCK_OVERHEAD, OBJECT_OVERHEAD + oldSize);
    relink(obj);
    releaseBlock(old);
  }
  obj.rtSize = <u32>size;
  return changetype<usize>(obj) + TOTAL_OVERHEAD;
}

// @ts-ignore: decorator
@global @unsafe
export function __link(_parentPtr: usize, _childPtr: usize, _expectMultiple: bool): void {
  // No write barrier: marking happens all at once, between exports.
}

// @ts-ignore: decorator
@global @unsafe
export function __visit(ptr: usize, cookie: i32): void {
  if (ptr == 0) return;
  const obj = changetype<Header>(ptr - TOTAL_OVERHEAD);
  if (ptr < __heap_base) {
    // Static data can point at heap objects (a static array whose buffer grew): scan it once per collection.
    if (changetype<usize>(obj.prev) == collection) return;
    obj.prev = changetype<Header>(collection);
    __visit_members(ptr, cookie);
    return;
  }
  if (markOf(obj) != unreached) return;
  detach(obj);
  append(obj, reached, unreached ^ 1);
}

// @ts-ignore: decorator
@global @unsafe
export function __pin(ptr: usize): usize {
  if (ptr < __heap_base) return ptr;
  if (!ringsReady) readyRings();
  const obj = changetype<Header>(ptr - TOTAL_OVERHEAD);
  if (markOf(obj) == PINNED) throw new Error("object already pinned");
  detach(obj);
  append(obj, pinned, PINNED);
  return ptr;
}

// @ts-ignore: decorator
@global @unsafe
export function __unpin(ptr: usize): void {
  if (ptr < __heap_base) return;
  const obj = changetype<Header>(ptr - TOTAL_OVERHEAD);
  if (markOf(obj) != PINNED) throw new Error("object not pinned");
  detach(obj);
  append(obj, pending, unreached);
}

// @ts-ignore: decorator
@global @unsafe
export function __collect(): void {
  if (!ringsReady) return;
  collection++;
  __visit_globals(0);
  scanRing(pinned);
  scanRing(reached);
  let obj = nextOf(pending);
  while (obj != pending) {
    const next = nextOf(obj);
    releaseBlock(obj);
    obj = next;
  }
  // The reached objects are the next collection's pending ones, and their mark its unreached one.
  emptyRing(pending);
  const swept = pending;
  pending = reached;
  reached = swept;
  unreached ^= 1;
  if (listedBytes > FREE_LIST_BUDGET) returnListedBlocks();
}
