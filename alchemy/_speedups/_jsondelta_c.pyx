# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""JSON delta merger, compiled twin.

Behaves exactly like the pure twin ``_jsondelta_py.py``, which is the specification
(read its docstring for the best-effort policy). Import the public names from
:mod:`alchemy._speedups`, never from a twin.

How it is fast: a fragment is read in place through its own buffer, with one
specialization of the state machine per storage width of ``str`` (1, 2 or 4 bytes
per character), so no Python object is made per character. The string being read
is decoded into a C buffer kept in the narrowest width that holds its characters
(widened when a wider character arrives, as CPython's own writer does); turning
it into a ``str`` is one allocation and one ``memcpy``. Numbers collect their
ASCII text in a second C buffer. Python objects are made only for containers,
finished scalars, and the trailing value when ``value`` is read.
"""

cimport cython
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_GET_SIZE
from cpython.long cimport PyLong_FromString
from cpython.conversion cimport PyOS_string_to_double
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport Py_UCS1, Py_UCS2, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_New
from libc.string cimport memcpy, strlen

import sys

from ._limits import MAX_JSON_DEPTH

__all__ = ["JsonDeltaMerger", "parse_partial_json"]

cdef Py_ssize_t _MAX_DEPTH = MAX_JSON_DEPTH

cdef extern from *:
    """
    /* Strings made by the legacy C API must be made ready before their buffer is read (< 3.12). */
    #if PY_VERSION_HEX < 0x030C0000
    #define alchemy_unicode_ready(op) PyUnicode_READY(op)
    #else
    #define alchemy_unicode_ready(op) 0
    #endif
    """
    int alchemy_unicode_ready(object) except -1

ctypedef fused char_t:
    Py_UCS1
    Py_UCS2
    Py_UCS4

# Syntactic modes (the same numbering as the pure twin).
cdef enum:
    _VALUE = 0
    _VALUE_OR_CLOSE = 1
    _KEY = 2
    _KEY_OR_CLOSE = 3
    _COLON = 4
    _AFTER = 5
    _END = 6
    _STRING = 7
    _NUMBER = 8
    _LITERAL = 9

# Escape progress inside a string.
cdef enum:
    _E_NONE = 0
    _E_BACKSLASH = 1
    _E_HEX = 2
    _E_HIGH = 3
    _E_HIGH_BACKSLASH = 4
    _E_LOW_HEX = 5

# Number grammar positions.
cdef enum:
    _N_START = 0
    _N_MINUS = 1
    _N_ZERO = 2
    _N_INT = 3
    _N_DOT = 4
    _N_FRACTION = 5
    _N_EXPONENT = 6
    _N_EXPONENT_SIGN = 7
    _N_EXPONENT_DIGITS = 8

cdef enum:
    _INT_DIGITS_CHECK_THRESHOLD = 640
    _MIN_STRING_CAPACITY = 64
    _MIN_NUMBER_CAPACITY = 32
    # Returned by the scanners on a parse error (the message is in ``_error``);
    # -2 signals a Python exception (memory).
    _FAILED = -1

cdef str _EXPECT_VALUE = "a value"
cdef str _EXPECT_VALUE_OR_CLOSE = "a value or ']'"
cdef str _EXPECT_KEY = "a string key"
cdef str _EXPECT_KEY_OR_CLOSE = "a string key or '}'"
cdef str _EXPECT_COLON = "':'"
cdef str _EXPECT_OBJECT_NEXT = "',' or '}'"
cdef str _EXPECT_ARRAY_NEXT = "',' or ']'"
cdef str _EXPECT_END = "only whitespace after the complete value"
cdef str _EXPECT_DIGIT = "a digit"
cdef str _EXPECT_EXPONENT = "a digit, '+' or '-'"

cdef tuple _LITERAL_WORDS = ("true", "false", "null")
cdef tuple _LITERAL_VALUES = (True, False, None)
cdef const char* _LITERAL_TEXT[3]
_LITERAL_TEXT[0] = "true"
_LITERAL_TEXT[1] = "false"
_LITERAL_TEXT[2] = "null"

_get_int_max_str_digits = getattr(sys, "get_int_max_str_digits", None)


# The messages below must match _jsondelta_py.py word for word (the twin tests compare them).

cdef str _unexpected(unsigned int char, Py_ssize_t position, str expected):
    return f"unexpected character {chr(char)!r} at offset {position}: expected {expected}"


cdef str _bad_escape(unsigned int char, Py_ssize_t position):
    return f"invalid escape character {chr(char)!r} at offset {position}: expected one of \" \\ / b f n r t u"


cdef str _bad_hex(unsigned int char, Py_ssize_t position):
    return f"invalid \\u escape at offset {position}: {chr(char)!r} is not a hex digit"


cdef str _control_character(unsigned int char, Py_ssize_t position):
    return f"unescaped control character {chr(char)!r} in a string at offset {position}"


cdef str _integer_too_long(Py_ssize_t position, Py_ssize_t limit):
    return (
        f"integer at offset {position} has more than {limit} digits, "
        "Python's limit for int conversion (sys.set_int_max_str_digits)"
    )


cdef str _nested_too_deep(Py_ssize_t position):
    return (
        f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels at offset {position} "
        "(the limit is alchemy.json.MAX_JSON_DEPTH)"
    )


cdef Py_ssize_t _int_digit_limit() except -1:
    if _get_int_max_str_digits is None:
        return 0
    return _get_int_max_str_digits()


cdef inline int _hex_digit(unsigned int c) noexcept nogil:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline unsigned int _simple_escape(unsigned int c) noexcept nogil:
    """The character a one-letter escape stands for, or 0xFFFFFFFF when it is invalid."""
    if c == 34 or c == 92 or c == 47:  # " \ /
        return c
    if c == 110:  # n
        return 10
    if c == 116:  # t
        return 9
    if c == 114:  # r
        return 13
    if c == 98:  # b
        return 8
    if c == 102:  # f
        return 12
    return 0xFFFFFFFF


cdef inline int _kind_for(unsigned int maxchar) noexcept nogil:
    if maxchar < 256:
        return 1
    if maxchar < 65536:
        return 2
    return 4


@cython.final
cdef class JsonDeltaMerger:
    """Parses JSON text fed in fragments, keeping a best-effort value at every point.

    ``feed(fragment)`` costs O(len(fragment)) amortized. ``value`` is built when
    read and cached until the next feed; its containers are live (the merger
    keeps filling them), so copy the value if you need a snapshot.
    """

    cdef list _fragments
    cdef object _text
    cdef Py_ssize_t _offset
    cdef int _mode
    cdef list _stack
    cdef object _top
    cdef bint _top_is_object
    cdef object _key
    cdef object _root
    cdef bint _has_root
    # The string being read, decoded: _slen characters of _skind bytes each;
    # _smax is a character at least as wide as every one in it (same width class).
    cdef char* _sbuf
    cdef Py_ssize_t _slen
    cdef Py_ssize_t _scap
    cdef int _skind
    cdef unsigned int _smax
    cdef object _partial
    cdef Py_ssize_t _partial_length
    cdef bint _in_key
    cdef int _escape
    cdef int _hex_count
    cdef unsigned int _hex_value
    cdef unsigned int _high
    # The number being read: its ASCII text (NUL-terminated on conversion).
    cdef char* _nbuf
    cdef Py_ssize_t _nlen
    cdef Py_ssize_t _ncap
    cdef int _number_state
    cdef Py_ssize_t _number_start
    cdef Py_ssize_t _int_digits
    cdef bint _has_fraction
    cdef Py_ssize_t _mantissa_length
    cdef int _literal
    cdef int _literal_matched
    cdef bint _slot_filled
    cdef object _value
    cdef bint _value_valid
    cdef object _error
    cdef bint _too_deep

    def __cinit__(self):
        self._sbuf = NULL
        self._nbuf = NULL

    def __init__(self):
        self._fragments = []
        self._text = ""
        self._offset = 0
        self._mode = _VALUE
        self._stack = []
        self._top = None
        self._top_is_object = False
        self._key = ""
        self._root = None
        self._has_root = False
        self._slen = 0
        self._skind = 1
        self._smax = 0
        self._partial = None
        self._partial_length = -1
        self._in_key = False
        self._escape = _E_NONE
        self._hex_count = 0
        self._hex_value = 0
        self._high = 0
        self._nlen = 0
        self._number_state = _N_START
        self._number_start = 0
        self._int_digits = 0
        self._has_fraction = False
        self._mantissa_length = 0
        self._literal = 0
        self._literal_matched = 0
        self._slot_filled = False
        self._value = None
        self._value_valid = True
        self._error = None
        self._too_deep = False

    def __dealloc__(self):
        PyMem_Free(self._sbuf)
        PyMem_Free(self._nbuf)

    # -- public surface -------------------------------------------------------

    def feed(self, fragment):
        """Adds the next fragment of JSON text (ignored for parsing after an error)."""
        if not isinstance(fragment, str):
            raise TypeError(f"JsonDeltaMerger.feed() expects str, got {type(fragment).__name__}")
        alchemy_unicode_ready(fragment)
        cdef Py_ssize_t length = PyUnicode_GET_LENGTH(fragment)
        if length == 0:
            return
        self._fragments.append(fragment)
        self._text = None
        cdef unsigned int kind
        cdef void* data
        if self._error is None:
            self._value_valid = False
            kind = PyUnicode_KIND(fragment)
            data = PyUnicode_DATA(fragment)
            if kind == 1:
                _consume(self, <Py_UCS1*>data, length)
            elif kind == 2:
                _consume(self, <Py_UCS2*>data, length)
            else:
                _consume(self, <Py_UCS4*>data, length)
        self._offset += length

    @property
    def text(self):
        """All text fed so far."""
        if self._text is None:
            self._text = "".join(self._fragments)
            self._fragments = [self._text]
        return self._text

    @property
    def has_value(self):
        """Whether a best-effort value exists (tells JSON ``null`` from no value)."""
        if self._has_root:
            return True
        if self._mode == _NUMBER:
            return self._number_state > _N_MINUS
        return self._mode == _LITERAL or (self._mode == _STRING and not self._in_key)

    @property
    def value(self):
        """The best-effort value, or ``None`` when there is none (see ``has_value``)."""
        if not self._value_valid:
            self._value = self._materialize()
            self._value_valid = True
        return self._value

    @property
    def complete(self):
        """Whether the text is one whole JSON value followed only by whitespace."""
        return self._is_complete()

    @property
    def error(self):
        """``None``, or why the text can no longer be the prefix of a JSON document."""
        return self._error

    @property
    def too_deep(self):
        """Whether parsing stopped because arrays and objects nest deeper than ``MAX_JSON_DEPTH``."""
        return self._too_deep

    def __repr__(self):
        state = "error" if self._error is not None else ("complete" if self._is_complete() else "partial")
        return f"<JsonDeltaMerger {state}, {self._offset} characters>"

    def __reduce__(self):
        # The state is a function of the text alone, so the text is what is pickled.
        return (_merger_from_text, (self.text,))

    cdef bint _is_complete(self):
        if self._error is not None or PyList_GET_SIZE(self._stack) != 0:
            return False
        if self._mode == _END:
            return True
        return self._mode == _NUMBER and (
            self._number_state == _N_ZERO
            or self._number_state == _N_INT
            or self._number_state == _N_FRACTION
            or self._number_state == _N_EXPONENT_DIGITS
        )

    # -- structure ------------------------------------------------------------

    cdef Py_ssize_t _fail(self, str message) except -2:
        self._error = message
        return _FAILED

    cdef Py_ssize_t _structural(self, unsigned int char, Py_ssize_t index) except -2:
        """One significant character outside strings, numbers and literals."""
        cdef int mode = self._mode
        cdef Py_ssize_t position = self._offset + index
        if mode == _AFTER:
            if char == 44:  # ,
                self._mode = _KEY if self._top_is_object else _VALUE
                return index + 1
            if char == (125 if self._top_is_object else 93):  # } or ]
                self._close()
                return index + 1
            return self._fail(
                _unexpected(char, position, _EXPECT_OBJECT_NEXT if self._top_is_object else _EXPECT_ARRAY_NEXT)
            )
        if mode == _VALUE or mode == _VALUE_OR_CLOSE:
            if char == 93 and mode == _VALUE_OR_CLOSE:
                self._close()
                return index + 1
            return self._start_value(char, index, _EXPECT_VALUE if mode == _VALUE else _EXPECT_VALUE_OR_CLOSE)
        if mode == _KEY or mode == _KEY_OR_CLOSE:
            if char == 34:
                self._start_string(True)
                return index + 1
            if char == 125 and mode == _KEY_OR_CLOSE:
                self._close()
                return index + 1
            return self._fail(_unexpected(char, position, _EXPECT_KEY if mode == _KEY else _EXPECT_KEY_OR_CLOSE))
        if mode == _COLON:
            if char == 58:  # :
                self._mode = _VALUE
                return index + 1
            return self._fail(_unexpected(char, position, _EXPECT_COLON))
        return self._fail(_unexpected(char, position, _EXPECT_END))

    cdef Py_ssize_t _start_value(self, unsigned int char, Py_ssize_t index, str expected) except -2:
        if char == 34:  # "
            self._start_string(False)
            return index + 1
        if char == 123:  # {
            if PyList_GET_SIZE(self._stack) >= _MAX_DEPTH:
                return self._fail_too_deep(index)
            self._open({}, True)
            self._mode = _KEY_OR_CLOSE
            return index + 1
        if char == 91:  # [
            if PyList_GET_SIZE(self._stack) >= _MAX_DEPTH:
                return self._fail_too_deep(index)
            self._open([], False)
            self._mode = _VALUE_OR_CLOSE
            return index + 1
        if char == 45 or 48 <= char <= 57:  # - or a digit
            self._mode = _NUMBER
            self._nlen = 0
            self._number_state = _N_START
            self._number_start = self._offset + index
            self._int_digits = 0
            self._has_fraction = False
            return index
        if char == 116 or char == 102 or char == 110:  # t f n
            self._mode = _LITERAL
            self._literal = 0 if char == 116 else (1 if char == 102 else 2)
            self._literal_matched = 1
            return index + 1
        return self._fail(_unexpected(char, self._offset + index, expected))

    cdef Py_ssize_t _fail_too_deep(self, Py_ssize_t index) except -2:
        self._too_deep = True
        return self._fail(_nested_too_deep(self._offset + index))

    cdef int _open(self, container, bint is_object) except -1:
        if self._top is None:
            self._root = container
            self._has_root = True
        elif self._top_is_object:
            (<dict>self._top)[self._key] = container
        else:
            (<list>self._top).append(container)
        self._stack.append(container)
        self._top = container
        self._top_is_object = is_object
        return 0

    cdef int _close(self) except -1:
        cdef list stack = self._stack
        stack.pop()
        cdef Py_ssize_t size = PyList_GET_SIZE(stack)
        if size > 0:
            self._top = stack[size - 1]
            self._top_is_object = type(self._top) is dict
            self._mode = _AFTER
        else:
            self._top = None
            self._mode = _END
        return 0

    cdef int _finish_scalar(self, value) except -1:
        """Puts a complete scalar where it belongs (over its provisional entry, if any)."""
        cdef list array
        if self._top is None:
            self._root = value
            self._has_root = True
            self._mode = _END
            return 0
        if self._top_is_object:
            (<dict>self._top)[self._key] = value
        elif self._slot_filled:
            array = <list>self._top
            array[PyList_GET_SIZE(array) - 1] = value
        else:
            (<list>self._top).append(value)
        self._slot_filled = False
        self._mode = _AFTER
        return 0

    # -- the string buffer ----------------------------------------------------

    cdef void _start_string(self, bint in_key) noexcept:
        self._mode = _STRING
        self._in_key = in_key
        self._escape = _E_NONE
        self._slen = 0
        self._skind = 1
        self._smax = 0
        self._partial = None
        self._partial_length = -1

    cdef int _reserve(self, Py_ssize_t extra, unsigned int maxchar) except -1:
        """Room for ``extra`` more characters, and a width that holds ``maxchar``."""
        cdef int kind = _kind_for(maxchar)
        cdef Py_ssize_t needed = self._slen + extra
        cdef Py_ssize_t capacity = self._scap
        cdef char* old
        cdef char* buffer
        cdef Py_ssize_t i
        if maxchar > self._smax:
            self._smax = maxchar
        if kind <= self._skind and needed <= capacity:
            return 0
        if needed > capacity:
            capacity = capacity * 2 if capacity * 2 >= needed else needed
            if capacity < _MIN_STRING_CAPACITY:
                capacity = _MIN_STRING_CAPACITY
        if kind <= self._skind:
            buffer = <char*>PyMem_Realloc(self._sbuf, capacity * self._skind)
            if buffer == NULL:
                raise MemoryError()
            self._sbuf = buffer
            self._scap = capacity
            return 0
        # Widen: copy every character into a buffer of the new width.
        buffer = <char*>PyMem_Realloc(NULL, capacity * kind)
        if buffer == NULL:
            raise MemoryError()
        old = self._sbuf
        if kind == 2:
            for i in range(self._slen):
                (<Py_UCS2*>buffer)[i] = (<Py_UCS1*>old)[i]
        elif self._skind == 1:
            for i in range(self._slen):
                (<Py_UCS4*>buffer)[i] = (<Py_UCS1*>old)[i]
        else:
            for i in range(self._slen):
                (<Py_UCS4*>buffer)[i] = (<Py_UCS2*>old)[i]
        PyMem_Free(old)
        self._sbuf = buffer
        self._scap = capacity
        self._skind = kind
        return 0

    cdef int _append_char(self, unsigned int char) except -1:
        self._reserve(1, char)
        if self._skind == 1:
            (<Py_UCS1*>self._sbuf)[self._slen] = <Py_UCS1>char
        elif self._skind == 2:
            (<Py_UCS2*>self._sbuf)[self._slen] = <Py_UCS2>char
        else:
            (<Py_UCS4*>self._sbuf)[self._slen] = char
        self._slen += 1
        return 0

    cdef str _build_string(self):
        cdef unsigned int maxchar = self._smax
        if maxchar > 0xFFFF:
            maxchar = 0x10FFFF
        if self._slen == 0:
            return ""
        cdef str string = PyUnicode_New(self._slen, maxchar)
        memcpy(PyUnicode_DATA(string), self._sbuf, self._slen * self._skind)
        return string

    cdef int _finish_string(self) except -1:
        cdef str string = self._build_string()
        self._partial = None
        if self._in_key:
            self._key = string
            self._mode = _COLON
        else:
            self._finish_scalar(string)
        return 0

    # -- numbers --------------------------------------------------------------

    cdef int _number_reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t needed = self._nlen + extra + 1  # room for a NUL
        cdef Py_ssize_t capacity
        cdef char* buffer
        if needed <= self._ncap:
            return 0
        capacity = self._ncap * 2 if self._ncap * 2 >= needed else needed
        if capacity < _MIN_NUMBER_CAPACITY:
            capacity = _MIN_NUMBER_CAPACITY
        buffer = <char*>PyMem_Realloc(self._nbuf, capacity)
        if buffer == NULL:
            raise MemoryError()
        self._nbuf = buffer
        self._ncap = capacity
        return 0

    cdef object _number_prefix(self, Py_ssize_t length, bint is_float):
        """The number spelled by the first ``length`` characters of the number text."""
        cdef char saved = self._nbuf[length]
        cdef double parsed
        self._nbuf[length] = 0
        try:
            if is_float:
                parsed = PyOS_string_to_double(self._nbuf, NULL, NULL)
                return PyFloat_FromDouble(parsed)
            return PyLong_FromString(self._nbuf, NULL, 10)
        finally:
            self._nbuf[length] = saved

    cdef object _number_value(self):
        """The number read so far, or its longest valid prefix (``None`` for a lone '-')."""
        cdef int state = self._number_state
        if state == _N_ZERO or state == _N_INT:
            return self._number_prefix(self._nlen, False)
        if state == _N_FRACTION or state == _N_EXPONENT_DIGITS:
            return self._number_prefix(self._nlen, True)
        if state == _N_DOT:
            return self._number_prefix(self._nlen - 1, False)
        if state == _N_EXPONENT or state == _N_EXPONENT_SIGN:
            return self._number_prefix(self._mantissa_length, self._has_fraction)
        return None

    cdef Py_ssize_t _fail_integer_too_long(self, Py_ssize_t limit) except -2:
        """Keeps the longest convertible prefix (the sign and ``limit`` digits) as the value."""
        self._nlen = (1 if self._nbuf[0] == 45 else 0) + limit
        self._number_state = _N_INT
        self._int_digits = limit
        return self._fail(_integer_too_long(self._number_start, limit))

    # -- the best-effort value ------------------------------------------------

    cdef object _materialize(self):
        cdef object partial
        cdef list array
        if self._mode == _STRING and not self._in_key:
            if self._partial_length != self._slen:
                self._partial = self._build_string()
                self._partial_length = self._slen
            partial = self._partial
        elif self._mode == _NUMBER:
            if self._number_state <= _N_MINUS:
                return self._root
            partial = self._number_value()
        elif self._mode == _LITERAL:
            partial = _LITERAL_VALUES[self._literal]
        else:
            return self._root
        if self._top is None:
            return partial
        if self._top_is_object:
            (<dict>self._top)[self._key] = partial
        elif self._slot_filled:
            array = <list>self._top
            array[PyList_GET_SIZE(array) - 1] = partial
        else:
            (<list>self._top).append(partial)
        self._slot_filled = True
        return self._root


# -- the scanners, one specialization per str width ------------------------------


cdef Py_ssize_t _consume(JsonDeltaMerger m, char_t* data, Py_ssize_t end) except -2:
    cdef Py_ssize_t index = 0
    cdef int mode
    cdef unsigned int c
    while index < end:
        mode = m._mode
        if mode == _STRING:
            index = _scan_string(m, data, index, end)
        elif mode == _NUMBER:
            index = _scan_number(m, data, index, end)
        elif mode == _LITERAL:
            index = _scan_literal(m, data, index, end)
        else:
            c = data[index]
            while c == 32 or c == 10 or c == 13 or c == 9:
                index += 1
                if index == end:
                    return index
                c = data[index]
            index = m._structural(c, index)
        if index < 0:
            return _FAILED
    return index


cdef int _append_run(JsonDeltaMerger m, char_t* data, Py_ssize_t start, Py_ssize_t stop, unsigned int maxchar) except -1:
    cdef Py_ssize_t count = stop - start
    cdef Py_ssize_t i
    cdef int kind
    m._reserve(count, maxchar)
    kind = m._skind
    if kind == sizeof(char_t):
        memcpy(m._sbuf + m._slen * kind, data + start, count * kind)
    elif kind == 1:
        for i in range(count):
            (<Py_UCS1*>m._sbuf)[m._slen + i] = <Py_UCS1>data[start + i]
    elif kind == 2:
        for i in range(count):
            (<Py_UCS2*>m._sbuf)[m._slen + i] = <Py_UCS2>data[start + i]
    else:
        for i in range(count):
            (<Py_UCS4*>m._sbuf)[m._slen + i] = <Py_UCS4>data[start + i]
    m._slen += count
    return 0


cdef Py_ssize_t _scan_string(JsonDeltaMerger m, char_t* data, Py_ssize_t index, Py_ssize_t end) except -2:
    cdef int escape = m._escape
    cdef unsigned int c
    cdef unsigned int bits
    cdef unsigned int code
    cdef Py_ssize_t start
    cdef int digit
    while index < end:
        c = data[index]
        if escape == _E_NONE:
            if c == 34:  # "
                m._escape = _E_NONE
                m._finish_string()
                return index + 1
            if c == 92:  # \
                escape = _E_BACKSLASH
                index += 1
                continue
            if c < 32:
                return m._fail(_control_character(c, m._offset + index))
            # A run of plain characters; ``bits`` ORs them, which keeps the
            # width class (<128, <256, <65536, more) of the widest one.
            start = index
            bits = 0
            while True:
                bits |= c
                index += 1
                if index == end:
                    break
                c = data[index]
                if c == 34 or c == 92 or c < 32:
                    break
            if bits > 0xFFFF:
                bits = 0x10FFFF
            _append_run(m, data, start, index, bits)
        elif escape == _E_BACKSLASH:
            index += 1
            if c == 117:  # u
                escape = _E_HEX
                m._hex_count = 0
                m._hex_value = 0
                continue
            code = _simple_escape(c)
            if code == 0xFFFFFFFF:
                return m._fail(_bad_escape(c, m._offset + index - 1))
            m._append_char(code)
            escape = _E_NONE
        elif escape == _E_HEX or escape == _E_LOW_HEX:
            digit = _hex_digit(c)
            if digit < 0:
                m._escape = escape
                return m._fail(_bad_hex(c, m._offset + index))
            index += 1
            m._hex_value = m._hex_value * 16 + digit
            m._hex_count += 1
            if m._hex_count < 4:
                continue
            code = m._hex_value
            if escape == _E_LOW_HEX:
                if 0xDC00 <= code <= 0xDFFF:
                    m._append_char(0x10000 + ((m._high - 0xD800) << 10) + (code - 0xDC00))
                    escape = _E_NONE
                    continue
                # Not a low half: the high surrogate stays alone, as json.loads
                # keeps it, and this escape stands on its own.
                m._append_char(m._high)
            if 0xD800 <= code <= 0xDBFF:
                m._high = code
                escape = _E_HIGH
            else:
                m._append_char(code)
                escape = _E_NONE
        elif escape == _E_HIGH:
            if c == 92:
                escape = _E_HIGH_BACKSLASH
                index += 1
            else:
                m._append_char(m._high)
                escape = _E_NONE
        else:  # _E_HIGH_BACKSLASH
            if c == 117:
                escape = _E_LOW_HEX
                m._hex_count = 0
                m._hex_value = 0
                index += 1
            else:
                m._append_char(m._high)
                escape = _E_BACKSLASH
    m._escape = escape
    return index


cdef int _append_number_text(JsonDeltaMerger m, char_t* data, Py_ssize_t start, Py_ssize_t stop) except -1:
    cdef Py_ssize_t i
    m._number_reserve(stop - start)
    for i in range(stop - start):
        m._nbuf[m._nlen + i] = <char>data[start + i]
    m._nlen += stop - start
    return 0


cdef Py_ssize_t _scan_number(JsonDeltaMerger m, char_t* data, Py_ssize_t index, Py_ssize_t end) except -2:
    cdef Py_ssize_t start = index
    cdef int state = m._number_state
    cdef str expected = None
    cdef unsigned int c
    cdef bint is_digit
    cdef Py_ssize_t limit
    while index < end:
        c = data[index]
        is_digit = 48 <= c <= 57
        if state == _N_INT or state == _N_FRACTION or state == _N_EXPONENT_DIGITS:
            if is_digit:
                if state == _N_INT:
                    m._int_digits += 1
                index += 1
                continue
            if c == 46 and state == _N_INT:  # .
                state = _N_DOT
            elif (c == 101 or c == 69) and state != _N_EXPONENT_DIGITS:  # e E
                m._mantissa_length = m._nlen + index - start
                state = _N_EXPONENT
            else:
                break
        elif state == _N_START:
            if c == 45:
                state = _N_MINUS
            elif c == 48:
                state = _N_ZERO
                m._int_digits = 1
            else:
                state = _N_INT
                continue
        elif state == _N_MINUS:
            if c == 48:
                state = _N_ZERO
                m._int_digits = 1
            elif is_digit:
                state = _N_INT
                continue
            else:
                expected = _EXPECT_DIGIT
                break
        elif state == _N_ZERO:
            if c == 46:
                state = _N_DOT
            elif c == 101 or c == 69:
                m._mantissa_length = m._nlen + index - start
                state = _N_EXPONENT
            else:
                break
        elif state == _N_DOT:
            if not is_digit:
                expected = _EXPECT_DIGIT
                break
            m._has_fraction = True
            state = _N_FRACTION
            continue
        elif state == _N_EXPONENT:
            if c == 43 or c == 45:  # + -
                state = _N_EXPONENT_SIGN
            elif is_digit:
                state = _N_EXPONENT_DIGITS
                continue
            else:
                expected = _EXPECT_EXPONENT
                break
        else:  # _N_EXPONENT_SIGN
            if not is_digit:
                expected = _EXPECT_DIGIT
                break
            state = _N_EXPONENT_DIGITS
            continue
        index += 1
    m._number_state = state
    if index > start:
        _append_number_text(m, data, start, index)
    if m._int_digits > _INT_DIGITS_CHECK_THRESHOLD:
        limit = _int_digit_limit()
        if 0 < limit < m._int_digits:
            return m._fail_integer_too_long(limit)
    if expected is not None:
        return m._fail(_unexpected(data[index], m._offset + index, expected))
    if index < end:  # a character that does not continue the number ends it
        m._finish_scalar(m._number_value())
    return index


cdef Py_ssize_t _scan_literal(JsonDeltaMerger m, char_t* data, Py_ssize_t index, Py_ssize_t end) except -2:
    cdef const char* word = _LITERAL_TEXT[m._literal]
    cdef int length = <int>strlen(word)
    cdef int matched = m._literal_matched
    while index < end and matched < length:
        if data[index] != <unsigned int>word[matched]:
            m._literal_matched = matched
            return m._fail(_unexpected(data[index], m._offset + index, f"the literal {_LITERAL_WORDS[m._literal]!r}"))
        matched += 1
        index += 1
    m._literal_matched = matched
    if matched == length:
        m._finish_scalar(_LITERAL_VALUES[m._literal])
    return index


def _merger_from_text(text):
    """Unpickles a merger: the same text fed anew gives the same state."""
    cdef JsonDeltaMerger merger = JsonDeltaMerger()
    merger.feed(text)
    return merger


def parse_partial_json(text, default=None):
    """The best-effort value of ``text`` (a JSON document or a prefix of one), else ``default``.

    Text that stops being valid JSON gives the value of its longest valid prefix.
    """
    cdef JsonDeltaMerger merger = JsonDeltaMerger()
    merger.feed(text)
    return merger.value if merger.has_value else default
