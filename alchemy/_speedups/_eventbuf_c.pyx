# cython: language_level=3
"""Compiled twin of the event buffer; ``_eventbuf_py.py`` is the specification.

Same behaviour as the pure twin, with two speed choices:

* The queue is a list with a read index instead of a deque: a pop is an index
  read, and the list is emptied (or compacted) when the consumer catches up.
* ``__anext__`` returns a small awaitable instead of starting a coroutine. Like
  the pure twin's coroutine it does nothing until awaited (so awaitables created
  ahead, dropped or cancelled before they run take no event). On CPython 3.10 and
  3.11 it implements the ``am_send`` slot: ``await`` takes a queued event with no
  frame and no exception, and when the queue is empty it drives the refill
  coroutine (which pumps the source), forwarding its suspensions. From 3.12 the
  interpreter no longer calls ``am_send`` from ``await`` but inlines native
  coroutines, so there ``__anext__`` returns a native coroutine from ``_native``.
"""

cimport cython
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.ref cimport Py_DECREF, Py_REFCNT, PyObject

import sys
from types import GenericAlias

from ._native import next_event as _native_next_event

__all__ = ["DEFAULT_MAXSIZE", "EventBuffer"]

DEFAULT_MAXSIZE = 1024

cdef str _EXHAUSTED = "EventBuffer: the source reported it was exhausted without ending the buffer"
cdef str _NO_SOURCE = "EventBuffer: the queue is empty and no {kind} source is attached"
cdef str _READER_BUSY = "EventBuffer: another coroutine is already waiting in wait_readable()"
cdef str _WRITER_BUSY = "EventBuffer: another coroutine is already waiting in wait_writable()"
cdef str _NOT_FINISHED = "EventBuffer: result() called before the buffer was ended"

def _new_waiter():
    """A future on the running loop. asyncio is imported here, at the first wait, so the
    sync path (``import alchemy``, ``for event in stream``) never loads it."""
    import asyncio

    return asyncio.get_running_loop().create_future()


# Popped slots are dropped from the front of the list once at least this many
# have accumulated and they make up half the list (amortized O(1) per event).
cdef Py_ssize_t _COMPACT_AT = 256


cdef extern from *:
    """
    typedef PyObject *(*alchemy_stepfunc)(PyObject *, PyObject *, int *);
    static alchemy_stepfunc alchemy_next_step = NULL;

    /* am_send of _NextEvent: one step, which says whether it yielded or returned. */
    static PySendResult alchemy_next_am_send(PyObject *self, PyObject *arg, PyObject **result) {
        int yielded = 0;
        PyObject *value = alchemy_next_step(self, arg, &yielded);
        *result = value;
        if (value == NULL) {
            return PYGEN_ERROR;
        }
        return yielded ? PYGEN_NEXT : PYGEN_RETURN;
    }

    /* Gives a type the am_send slot above; returns 0 when the type has no async slots. */
    static int alchemy_install_next_step(PyObject *type, alchemy_stepfunc step) {
        PyTypeObject *tp = (PyTypeObject *)type;
        if (tp->tp_as_async == NULL || tp->tp_as_async->am_await == NULL) {
            return 0;
        }
        alchemy_next_step = step;
        tp->tp_as_async->am_send = alchemy_next_am_send;
    #ifdef Py_TPFLAGS_HAVE_AM_SEND
        tp->tp_flags |= Py_TPFLAGS_HAVE_AM_SEND;
    #endif
        PyType_Modified(tp);
        return 1;
    }

    /* Lets Cython propagate an exception a C-API call already set. */
    static int alchemy_propagate_error(void) {
        return -1;
    }
    """
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    ctypedef object (*alchemy_stepfunc)(object, object, int *)
    int alchemy_install_next_step(object type, alchemy_stepfunc step)
    int alchemy_propagate_error() except -1
    PySendResult PyIter_Send(object iterator, object arg, PyObject **presult)


@cython.final
@cython.freelist(8)
cdef class _NextEvent:
    """What ``__anext__`` returns on CPython 3.10 and 3.11: the next event, once awaited."""

    cdef EventBuffer buffer
    cdef object refill  # the buffer's refill coroutine while one runs
    cdef bint done

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        # The path taken when am_send is not used (a tracer is active).
        return self.send(None)

    def send(self, arg):
        cdef int yielded = 0
        value = _next_step(self, arg, &yielded)
        if yielded:
            return value
        raise StopIteration(value)

    def throw(self, typ, val=None, tb=None):
        refill = self.refill
        if refill is None:
            self.done = True
            if val is None:
                raise typ
            raise val
        try:
            return refill.throw(typ, val, tb)  # the refill suspended again
        except StopIteration as stop:
            self.refill = None
            self.done = True
            raise StopIteration(stop.value)
        except BaseException:
            self.refill = None
            self.done = True
            raise

    def close(self):
        refill = self.refill
        self.refill = None
        self.done = True
        if refill is not None:
            refill.close()


cdef object _next_step(object awaitable, object arg, int *yielded):
    cdef _NextEvent step = <_NextEvent>awaitable
    cdef EventBuffer buffer
    cdef PyObject *result = NULL
    cdef PySendResult status
    refill = step.refill
    if refill is None:
        if step.done:
            raise RuntimeError("cannot reuse already awaited coroutine")
        buffer = step.buffer
        if buffer._head < PyList_GET_SIZE(buffer._items):
            step.done = True
            return buffer._take()
        refill = buffer._refill_and_take()
        step.refill = refill
        arg = None
    status = PyIter_Send(refill, arg, &result)
    if status == PYGEN_NEXT:
        yielded[0] = 1
    else:
        step.refill = None
        step.done = True
        if status == PYGEN_ERROR:
            alchemy_propagate_error()
    value = <object>result  # takes a second reference ...
    Py_DECREF(value)  # ... and gives back the one PyIter_Send handed over
    return value


cdef bint _USE_AM_SEND = sys.version_info < (3, 12) and alchemy_install_next_step(_NextEvent, _next_step) == 1


cdef Py_ssize_t _check_maxsize(object maxsize) except -1:
    if not isinstance(maxsize, int) or isinstance(maxsize, bool):
        raise TypeError(f"EventBuffer maxsize must be an int, got {type(maxsize).__name__}")
    if maxsize < 1:
        raise ValueError(f"EventBuffer maxsize must be at least 1, got {maxsize}")
    return maxsize


@cython.final
cdef class EventBuffer:
    """A FIFO of events with pull-based refill, a bound and an end/error hand-off."""

    cdef list _items
    cdef Py_ssize_t _head
    cdef Py_ssize_t _maxsize
    cdef bint _finished
    cdef object _result
    cdef object _error
    cdef Py_ssize_t _pushed
    cdef object _pump
    cdef object _apump
    cdef object _reader
    cdef object _writer
    # The awaitable __anext__ hands out, reused whenever nobody else holds it.
    cdef _NextEvent _next

    def __cinit__(self):
        self._items = []
        self._head = 0
        self._maxsize = 1
        self._finished = False
        self._pushed = 0

    def __init__(self, maxsize=DEFAULT_MAXSIZE):
        self._maxsize = _check_maxsize(maxsize)

    def __class_getitem__(cls, item):
        return GenericAlias(cls, item)

    # -- wiring ---------------------------------------------------------------

    def attach(self, pump=None, apump=None):
        """Sets the sources the consumer pulls from when the queue is empty."""
        self._pump = pump
        self._apump = apump

    # -- producer side --------------------------------------------------------

    cpdef bint push(self, event):
        """Queues ``event``; returns ``False`` when the producer should pause (or the buffer ended)."""
        if self._finished:
            return False
        self._items.append(event)
        self._pushed += 1
        if self._reader is not None:
            self._wake_reader()
        return PyList_GET_SIZE(self._items) - self._head < self._maxsize

    cpdef bint extend(self, events):
        """Queues every event of ``events`` in order (one network chunk's batch)."""
        if self._finished:
            return False
        cdef Py_ssize_t size = PyList_GET_SIZE(self._items)
        self._items.extend(events)
        self._pushed += PyList_GET_SIZE(self._items) - size
        cdef Py_ssize_t queued = PyList_GET_SIZE(self._items) - self._head
        if self._reader is not None and queued > 0:
            self._wake_reader()
        return queued < self._maxsize

    def end(self, result=None):
        """Finishes the buffer; :meth:`result` returns ``result`` (the first end wins)."""
        if self._finished:
            return
        self._finished = True
        self._result = result
        self._wake_both()

    def fail(self, error):
        """Finishes the buffer with ``error``, raised after the queued events and by :meth:`result`."""
        if not isinstance(error, BaseException):
            raise TypeError(f"EventBuffer.fail() expects an exception, got {type(error).__name__}")
        if self._finished:
            return
        self._finished = True
        self._error = error
        self._wake_both()

    async def wait_writable(self):
        """Returns at once below the bound; else once the consumer drained the queue, or the buffer finished."""
        if self._finished or PyList_GET_SIZE(self._items) - self._head < self._maxsize:
            return
        if self._writer is not None:
            raise RuntimeError(_WRITER_BUSY)
        waiter = _new_waiter()
        self._writer = waiter
        try:
            await waiter
        finally:
            self._writer = None

    # -- state ----------------------------------------------------------------

    @property
    def maxsize(self):
        return self._maxsize

    @property
    def finished(self):
        """Whether :meth:`end` or :meth:`fail` was called (events may still be queued)."""
        return self._finished

    @property
    def full(self):
        """Whether the queue holds ``maxsize`` events or more."""
        return PyList_GET_SIZE(self._items) - self._head >= self._maxsize

    @property
    def handed_out(self):
        """How many events the consumer has taken so far."""
        return self._pushed - (PyList_GET_SIZE(self._items) - self._head)

    def __len__(self):
        return PyList_GET_SIZE(self._items) - self._head

    def __repr__(self):
        state = "finished" if self._finished else "open"
        queued = PyList_GET_SIZE(self._items) - self._head
        return f"<EventBuffer {state}, {queued} queued, {self._pushed - queued} handed out>"

    def clear(self):
        """Discards the queued events (not yet handed out); returns how many."""
        cdef Py_ssize_t count = PyList_GET_SIZE(self._items) - self._head
        del self._items[:]
        self._head = 0
        self._pushed -= count
        if self._writer is not None:
            self._wake_writer()
        return count

    def result(self):
        """The result given to :meth:`end`, or raises the exception given to :meth:`fail`."""
        if not self._finished:
            raise RuntimeError(_NOT_FINISHED)
        if self._error is not None:
            raise self._error
        return self._result

    # -- consumer side --------------------------------------------------------

    def pop(self):
        """The next queued event, without pulling from the source; ``IndexError`` when empty."""
        if self._head >= PyList_GET_SIZE(self._items):
            raise IndexError("pop from an empty EventBuffer")
        event = self._take()
        if self._head >= PyList_GET_SIZE(self._items) and self._writer is not None:
            self._wake_writer()
        return event

    def __iter__(self):
        return self

    def __next__(self):
        if self._head < PyList_GET_SIZE(self._items):
            return self._take()
        if self._writer is not None:
            self._wake_writer()
        while self._head >= PyList_GET_SIZE(self._items):
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopIteration
            pump = self._pump
            if pump is None:
                raise RuntimeError(_NO_SOURCE.format(kind="sync"))
            if not pump() and self._head >= PyList_GET_SIZE(self._items) and not self._finished:
                raise RuntimeError(_EXHAUSTED)
        return self._take()

    def __aiter__(self):
        return self

    def __anext__(self):
        cdef _NextEvent step
        if _USE_AM_SEND:
            step = self._next
            # Reused when only the buffer and this function hold it: whoever awaited
            # it last is done with it, and nobody else can await it again.
            if step is not None and Py_REFCNT(step) == 2 and step.refill is None:
                step.done = False
                return step
            step = _NextEvent.__new__(_NextEvent)
            step.buffer = self
            if self._next is None:
                self._next = step
            return step
        return _native_next_event(self)

    def _take_queued(self):
        """The next queued event (``_native.next_event`` checks that one is queued)."""
        return self._take()

    async def _refill_and_take(self):
        """Pumps the source until an event is queued, then takes it (the slow path of ``__anext__``)."""
        if self._writer is not None:
            self._wake_writer()
        while self._head >= PyList_GET_SIZE(self._items):
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            apump = self._apump
            if apump is None:
                raise RuntimeError(_NO_SOURCE.format(kind="async"))
            if not await apump() and self._head >= PyList_GET_SIZE(self._items) and not self._finished:
                raise RuntimeError(_EXHAUSTED)
        return self._take()

    async def wait_readable(self):
        """Returns once an event is queued or the buffer is finished (for push-style sources)."""
        if self._head < PyList_GET_SIZE(self._items) or self._finished:
            return
        if self._reader is not None:
            raise RuntimeError(_READER_BUSY)
        waiter = _new_waiter()
        self._reader = waiter
        try:
            await waiter
        finally:
            self._reader = None

    # -- internals ------------------------------------------------------------

    cdef inline object _take(self):
        cdef list items = self._items
        cdef Py_ssize_t head = self._head
        # The slot keeps its reference until the list is emptied or compacted
        # (at most one batch later): cheaper than clearing it on every pop.
        cdef object event = <object>PyList_GET_ITEM(items, head)
        head += 1
        if head == PyList_GET_SIZE(items):
            del items[:]
            head = 0
        elif head >= _COMPACT_AT and head * 2 >= PyList_GET_SIZE(items):
            del items[:head]
            head = 0
        self._head = head
        return event

    cdef int _wake_reader(self) except -1:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        return 0

    cdef int _wake_writer(self) except -1:
        # Called when the queue is empty (or cleared): the whole bound is free again.
        writer = self._writer
        if writer is not None and not writer.done():
            writer.set_result(None)
        return 0

    cdef int _wake_both(self) except -1:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        writer = self._writer
        if writer is not None and not writer.done():
            writer.set_result(None)
        return 0
