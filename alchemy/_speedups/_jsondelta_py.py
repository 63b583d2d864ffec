"""Pure-Python twin of the JSON delta merger, and the typed specification of both twins.

A model streams a tool call's arguments as JSON text in fragments of a few
characters. :class:`JsonDeltaMerger` parses them incrementally: the parser state
(open containers, the string, number or literal being read, escape progress)
survives between fragments, so each fragment costs time proportional to its own
length and earlier text is never scanned again. Complete members go straight into
the containers, which are the very objects :attr:`JsonDeltaMerger.value` returns
(updated in place). Only the one trailing scalar that is still arriving is
materialized on demand, when ``value`` is read.

The best-effort policy (identical in the compiled twin):

* complete members and elements are kept, open containers are closed, a
  just-opened container is ``{}`` / ``[]``;
* an object member appears once its key is complete, its colon has arrived and
  its value has started;
* an unfinished string keeps its complete characters: it is cut before a partial
  escape and before a high surrogate whose low half has not fully arrived;
* an unfinished number becomes its longest valid prefix (``1.`` -> 1,
  ``2.5e-`` -> 2.5); a lone ``-`` gives nothing;
* an unfinished literal is completed (``tr`` -> True, ``n`` -> None);
* once the text can no longer be the prefix of a JSON document, ``error`` holds a
  message, ``value`` stays the value of the longest valid prefix, and later
  fragments are recorded in ``text`` but not parsed;
* arrays and objects nest at most :data:`~alchemy._speedups._limits.MAX_JSON_DEPTH`
  (128) deep: opening one more is an error like any other (``too_deep`` tells it
  apart), so ``value`` never nests deeper than that, and a hostile 100,000-deep
  document costs the same as a flat one.

A complete document gives exactly ``json.loads(text)``: big integers, floats
(parsed by ``float``), escapes and surrogate pairs decode the same, and a lone
surrogate escape becomes a lone surrogate code point as ``json.loads`` makes it.
Two deliberate differences: ``NaN`` / ``Infinity`` are not JSON and are errors,
and an integer longer than ``sys.get_int_max_str_digits()`` is an error as soon as
its digits pass the limit (``json.loads`` raises on it too).

The pure twin scans plain runs (string text, digits, whitespace) with compiled
regular expressions and handles only structural characters and escapes one at a
time, so it stays linear and reasonably fast without per-character Python loops.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Final, Union

from ._limits import MAX_JSON_DEPTH

__all__ = ["JsonDeltaMerger", "parse_partial_json"]

# Syntactic modes: what the next significant character may be.
_VALUE: Final = 0  # a value (after ':' or after ',' in an array, or at the top)
_VALUE_OR_CLOSE: Final = 1  # a value or ']' (just after '[')
_KEY: Final = 2  # a string key (after ',' in an object)
_KEY_OR_CLOSE: Final = 3  # a string key or '}' (just after '{')
_COLON: Final = 4  # ':' after a key
_AFTER: Final = 5  # ',' or the close of the innermost container
_END: Final = 6  # only whitespace after the complete top-level value
_STRING: Final = 7  # inside a string (a key or a value)
_NUMBER: Final = 8  # inside a number
_LITERAL: Final = 9  # inside true / false / null

# Escape progress inside a string.
_E_NONE: Final = 0  # plain characters
_E_BACKSLASH: Final = 1  # after '\'
_E_HEX: Final = 2  # collecting the 4 hex digits of a \u escape
_E_HIGH: Final = 3  # a high surrogate arrived; a '\' may start its low half
_E_HIGH_BACKSLASH: Final = 4  # a high surrogate, then '\'; a 'u' continues the pair
_E_LOW_HEX: Final = 5  # collecting the hex digits of the escape after a high surrogate

# Number grammar positions: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
_N_START: Final = 0  # nothing read yet
_N_MINUS: Final = 1  # '-'
_N_ZERO: Final = 2  # integer part '0'
_N_INT: Final = 3  # integer digits
_N_DOT: Final = 4  # '.'
_N_FRACTION: Final = 5  # fraction digits
_N_EXPONENT: Final = 6  # 'e' or 'E'
_N_EXPONENT_SIGN: Final = 7  # the exponent's '+' or '-'
_N_EXPONENT_DIGITS: Final = 8  # exponent digits

# The smallest value sys.set_int_max_str_digits accepts (other than 0, no limit):
# integers with at most this many digits never need the limit looked up.
_INT_DIGITS_CHECK_THRESHOLD: Final = 640

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_STRING_RUN: Final = re.compile(r'[^"\\\x00-\x1f]+')
_DIGITS: Final = re.compile(r"[0-9]*")

_SIMPLE_ESCAPES: Final = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX_VALUES: Final = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}
_LITERAL_VALUES: Final = {"true": True, "false": False, "null": None}
_LITERAL_WORDS: Final = {"t": "true", "f": "false", "n": "null"}

_EXPECT_VALUE: Final = "a value"
_EXPECT_VALUE_OR_CLOSE: Final = "a value or ']'"
_EXPECT_KEY: Final = "a string key"
_EXPECT_KEY_OR_CLOSE: Final = "a string key or '}'"
_EXPECT_COLON: Final = "':'"
_EXPECT_OBJECT_NEXT: Final = "',' or '}'"
_EXPECT_ARRAY_NEXT: Final = "',' or ']'"
_EXPECT_END: Final = "only whitespace after the complete value"
_EXPECT_DIGIT: Final = "a digit"
_EXPECT_EXPONENT: Final = "a digit, '+' or '-'"

_Container = Union[dict[str, Any], list[Any]]


def _unexpected(char: str, position: int, expected: str) -> str:
    return f"unexpected character {char!r} at offset {position}: expected {expected}"


def _bad_escape(char: str, position: int) -> str:
    return f"invalid escape character {char!r} at offset {position}: expected one of \" \\ / b f n r t u"


def _bad_hex(char: str, position: int) -> str:
    return f"invalid \\u escape at offset {position}: {char!r} is not a hex digit"


def _control_character(char: str, position: int) -> str:
    return f"unescaped control character {char!r} in a string at offset {position}"


def _integer_too_long(position: int, limit: int) -> str:
    return (
        f"integer at offset {position} has more than {limit} digits, "
        "Python's limit for int conversion (sys.set_int_max_str_digits)"
    )


def _nested_too_deep(position: int) -> str:
    return (
        f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels at offset {position} "
        "(the limit is alchemy.json.MAX_JSON_DEPTH)"
    )


def _int_digit_limit() -> int:
    """The interpreter's int conversion limit (0: none; Python 3.10 has none)."""
    getter = getattr(sys, "get_int_max_str_digits", None)
    return 0 if getter is None else int(getter())


class JsonDeltaMerger:
    """Parses JSON text fed in fragments, keeping a best-effort value at every point.

    ``feed(fragment)`` costs O(len(fragment)) amortized. ``value`` is built when
    read and cached until the next feed; its containers are live (the merger
    keeps filling them), so copy the value if you need a snapshot.
    """

    __slots__ = (
        "_fragments",
        "_text",
        "_offset",
        "_mode",
        "_stack",
        "_top",
        "_top_is_object",
        "_key",
        "_root",
        "_has_root",
        "_pieces",
        "_in_key",
        "_escape",
        "_hex_count",
        "_hex_value",
        "_high",
        "_number",
        "_number_state",
        "_number_start",
        "_int_digits",
        "_has_fraction",
        "_mantissa_length",
        "_literal",
        "_literal_matched",
        "_slot_filled",
        "_value",
        "_value_valid",
        "_error",
        "_too_deep",
    )

    def __init__(self) -> None:
        self._fragments: list[str] = []
        self._text: str | None = ""
        self._offset = 0
        self._mode = _VALUE
        self._stack: list[_Container] = []
        self._top: Any = None
        self._top_is_object = False
        self._key = ""
        self._root: Any = None
        self._has_root = False
        # The string being read: decoded pieces and escape progress.
        self._pieces: list[str] = []
        self._in_key = False
        self._escape = _E_NONE
        self._hex_count = 0
        self._hex_value = 0
        self._high = 0
        # The number being read: its text so far and grammar position.
        self._number: list[str] = []
        self._number_state = _N_START
        self._number_start = 0
        self._int_digits = 0
        self._has_fraction = False
        self._mantissa_length = 0
        # The literal being read and how many of its characters matched.
        self._literal = ""
        self._literal_matched = 0
        # Whether the innermost container holds a provisional entry for the
        # unfinished scalar (put there when ``value`` was read).
        self._slot_filled = False
        self._value: Any = None
        self._value_valid = True
        self._error: str | None = None
        self._too_deep = False

    # -- public surface -------------------------------------------------------

    def feed(self, fragment: str) -> None:
        """Adds the next fragment of JSON text (ignored for parsing after an error)."""
        if not isinstance(fragment, str):
            raise TypeError(f"JsonDeltaMerger.feed() expects str, got {type(fragment).__name__}")
        if not fragment:
            return
        self._fragments.append(fragment)
        self._text = None
        if self._error is None:
            self._value_valid = False
            self._consume(fragment)
        self._offset += len(fragment)

    @property
    def text(self) -> str:
        """All text fed so far."""
        text = self._text
        if text is None:
            text = "".join(self._fragments)
            self._fragments = [text]
            self._text = text
        return text

    @property
    def has_value(self) -> bool:
        """Whether a best-effort value exists (tells JSON ``null`` from no value)."""
        if self._has_root:
            return True
        mode = self._mode
        if mode == _NUMBER:
            return self._number_state > _N_MINUS
        return mode == _LITERAL or (mode == _STRING and not self._in_key)

    @property
    def value(self) -> Any:
        """The best-effort value, or ``None`` when there is none (see ``has_value``)."""
        if not self._value_valid:
            self._value = self._materialize()
            self._value_valid = True
        return self._value

    @property
    def complete(self) -> bool:
        """Whether the text is one whole JSON value followed only by whitespace."""
        if self._error is not None or self._stack:
            return False
        if self._mode == _END:
            return True
        return self._mode == _NUMBER and self._number_state in (_N_ZERO, _N_INT, _N_FRACTION, _N_EXPONENT_DIGITS)

    @property
    def error(self) -> str | None:
        """``None``, or why the text can no longer be the prefix of a JSON document."""
        return self._error

    @property
    def too_deep(self) -> bool:
        """Whether parsing stopped because arrays and objects nest deeper than ``MAX_JSON_DEPTH``."""
        return self._too_deep

    def __repr__(self) -> str:
        state = "error" if self._error is not None else ("complete" if self.complete else "partial")
        return f"<JsonDeltaMerger {state}, {self._offset} characters>"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # The state is a function of the text alone, so the text is what is pickled.
        return (_merger_from_text, (self.text,))

    # -- scanning -------------------------------------------------------------

    def _consume(self, text: str) -> None:
        index = 0
        end = len(text)
        while index < end:
            mode = self._mode
            if mode == _STRING:
                index = self._scan_string(text, index, end)
            elif mode == _NUMBER:
                index = self._scan_number(text, index, end)
            elif mode == _LITERAL:
                index = self._scan_literal(text, index, end)
            else:
                match = _WHITESPACE.match(text, index)
                index = match.end() if match is not None else index
                if index == end:
                    return
                index = self._structural(text[index], index)
            if index < 0:
                return

    def _fail(self, message: str) -> int:
        self._error = message
        return -1

    def _structural(self, char: str, index: int) -> int:
        """One significant character outside strings, numbers and literals."""
        mode = self._mode
        position = self._offset + index
        if mode == _AFTER:
            if char == ",":
                self._mode = _KEY if self._top_is_object else _VALUE
                return index + 1
            if char == ("}" if self._top_is_object else "]"):
                self._close()
                return index + 1
            return self._fail(_unexpected(char, position, _EXPECT_OBJECT_NEXT if self._top_is_object else _EXPECT_ARRAY_NEXT))
        if mode == _VALUE or mode == _VALUE_OR_CLOSE:
            if char == "]" and mode == _VALUE_OR_CLOSE:
                self._close()
                return index + 1
            return self._start_value(char, index, _EXPECT_VALUE if mode == _VALUE else _EXPECT_VALUE_OR_CLOSE)
        if mode == _KEY or mode == _KEY_OR_CLOSE:
            if char == '"':
                self._start_string(in_key=True)
                return index + 1
            if char == "}" and mode == _KEY_OR_CLOSE:
                self._close()
                return index + 1
            return self._fail(_unexpected(char, position, _EXPECT_KEY if mode == _KEY else _EXPECT_KEY_OR_CLOSE))
        if mode == _COLON:
            if char == ":":
                self._mode = _VALUE
                return index + 1
            return self._fail(_unexpected(char, position, _EXPECT_COLON))
        return self._fail(_unexpected(char, position, _EXPECT_END))

    def _start_value(self, char: str, index: int, expected: str) -> int:
        if char == '"':
            self._start_string(in_key=False)
            return index + 1
        if char == "{":
            if len(self._stack) >= MAX_JSON_DEPTH:
                return self._fail_too_deep(index)
            self._open({}, is_object=True)
            self._mode = _KEY_OR_CLOSE
            return index + 1
        if char == "[":
            if len(self._stack) >= MAX_JSON_DEPTH:
                return self._fail_too_deep(index)
            self._open([], is_object=False)
            self._mode = _VALUE_OR_CLOSE
            return index + 1
        if char == "-" or "0" <= char <= "9":
            self._mode = _NUMBER
            self._number = []
            self._number_state = _N_START
            self._number_start = self._offset + index
            self._int_digits = 0
            self._has_fraction = False
            return index
        word = _LITERAL_WORDS.get(char)
        if word is not None:
            self._mode = _LITERAL
            self._literal = word
            self._literal_matched = 1
            return index + 1
        return self._fail(_unexpected(char, self._offset + index, expected))

    def _fail_too_deep(self, index: int) -> int:
        self._too_deep = True
        return self._fail(_nested_too_deep(self._offset + index))

    def _open(self, container: _Container, is_object: bool) -> None:
        top = self._top
        if top is None:
            self._root = container
            self._has_root = True
        elif self._top_is_object:
            top[self._key] = container
        else:
            top.append(container)
        self._stack.append(container)
        self._top = container
        self._top_is_object = is_object

    def _close(self) -> None:
        stack = self._stack
        stack.pop()
        if stack:
            top = stack[-1]
            self._top = top
            self._top_is_object = type(top) is dict
            self._mode = _AFTER
        else:
            self._top = None
            self._mode = _END

    def _finish_scalar(self, value: Any) -> None:
        """Puts a complete scalar where it belongs (over its provisional entry, if any)."""
        top = self._top
        if top is None:
            self._root = value
            self._has_root = True
            self._mode = _END
            return
        if self._top_is_object:
            top[self._key] = value
        elif self._slot_filled:
            top[-1] = value
        else:
            top.append(value)
        self._slot_filled = False
        self._mode = _AFTER

    # -- strings --------------------------------------------------------------

    def _start_string(self, in_key: bool) -> None:
        self._mode = _STRING
        self._in_key = in_key
        self._pieces = []
        self._escape = _E_NONE

    def _scan_string(self, text: str, index: int, end: int) -> int:
        pieces = self._pieces
        escape = self._escape
        while index < end:
            char = text[index]
            if escape == _E_NONE:
                if char == '"':
                    self._escape = _E_NONE
                    self._finish_string()
                    return index + 1
                if char == "\\":
                    escape = _E_BACKSLASH
                    index += 1
                    continue
                run = _STRING_RUN.match(text, index)
                if run is None:
                    return self._fail(_control_character(char, self._offset + index))
                pieces.append(run.group())
                index = run.end()
            elif escape == _E_BACKSLASH:
                if char == "u":
                    escape = _E_HEX
                    self._hex_count = 0
                    self._hex_value = 0
                    index += 1
                    continue
                decoded = _SIMPLE_ESCAPES.get(char)
                if decoded is None:
                    return self._fail(_bad_escape(char, self._offset + index))
                pieces.append(decoded)
                escape = _E_NONE
                index += 1
            elif escape == _E_HEX or escape == _E_LOW_HEX:
                digit = _HEX_VALUES.get(char)
                if digit is None:
                    return self._fail(_bad_hex(char, self._offset + index))
                index += 1
                self._hex_value = self._hex_value * 16 + digit
                self._hex_count += 1
                if self._hex_count < 4:
                    continue
                code = self._hex_value
                if escape == _E_LOW_HEX:
                    if 0xDC00 <= code <= 0xDFFF:
                        pieces.append(chr(0x10000 + ((self._high - 0xD800) << 10) + (code - 0xDC00)))
                        escape = _E_NONE
                        continue
                    # Not a low half: the high surrogate stays alone, as json.loads
                    # keeps it, and this escape stands on its own.
                    pieces.append(chr(self._high))
                if 0xD800 <= code <= 0xDBFF:
                    self._high = code
                    escape = _E_HIGH
                else:
                    pieces.append(chr(code))
                    escape = _E_NONE
            elif escape == _E_HIGH:
                if char == "\\":
                    escape = _E_HIGH_BACKSLASH
                    index += 1
                else:
                    pieces.append(chr(self._high))
                    escape = _E_NONE
            else:  # _E_HIGH_BACKSLASH
                if char == "u":
                    escape = _E_LOW_HEX
                    self._hex_count = 0
                    self._hex_value = 0
                    index += 1
                else:
                    pieces.append(chr(self._high))
                    escape = _E_BACKSLASH
        self._escape = escape
        return index

    def _finish_string(self) -> None:
        pieces = self._pieces
        string = pieces[0] if len(pieces) == 1 else "".join(pieces)
        self._pieces = []
        if self._in_key:
            self._key = string
            self._mode = _COLON
        else:
            self._finish_scalar(string)

    def _partial_string(self) -> str:
        pieces = self._pieces
        if len(pieces) == 1:
            return pieces[0]
        string = "".join(pieces)
        self._pieces = [string]
        return string

    # -- numbers --------------------------------------------------------------

    def _scan_number(self, text: str, index: int, end: int) -> int:
        start = index
        state = self._number_state
        expected = ""  # set when a character breaks the number grammar
        while index < end:
            char = text[index]
            is_digit = "0" <= char <= "9"
            if state == _N_INT or state == _N_FRACTION or state == _N_EXPONENT_DIGITS:
                if is_digit:
                    run = _DIGITS.match(text, index)
                    run_end = run.end() if run is not None else index + 1
                    if state == _N_INT:
                        self._int_digits += run_end - index
                    index = run_end
                    continue
                if char == "." and state == _N_INT:
                    state = _N_DOT
                elif (char == "e" or char == "E") and state != _N_EXPONENT_DIGITS:
                    self._mantissa_length = self._number_length(start, index)
                    state = _N_EXPONENT
                else:
                    break
            elif state == _N_START:
                if char == "-":
                    state = _N_MINUS
                elif char == "0":
                    state = _N_ZERO
                    self._int_digits = 1
                else:
                    state = _N_INT
                    continue
            elif state == _N_MINUS:
                if char == "0":
                    state = _N_ZERO
                    self._int_digits = 1
                elif is_digit:
                    state = _N_INT
                    continue
                else:
                    expected = _EXPECT_DIGIT
                    break
            elif state == _N_ZERO:
                if char == ".":
                    state = _N_DOT
                elif char == "e" or char == "E":
                    self._mantissa_length = self._number_length(start, index)
                    state = _N_EXPONENT
                else:
                    break
            elif state == _N_DOT:
                if not is_digit:
                    expected = _EXPECT_DIGIT
                    break
                self._has_fraction = True
                state = _N_FRACTION
                continue
            elif state == _N_EXPONENT:
                if char == "+" or char == "-":
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
        self._number_state = state
        if index > start:
            self._number.append(text[start:index])
        if self._int_digits > _INT_DIGITS_CHECK_THRESHOLD:
            limit = _int_digit_limit()
            if 0 < limit < self._int_digits:
                return self._fail_integer_too_long(limit)
        if expected:
            return self._fail(_unexpected(text[index], self._offset + index, expected))
        if index < end:  # a character that does not continue the number ends it
            self._finish_scalar(self._number_value())
        return index

    def _fail_integer_too_long(self, limit: int) -> int:
        """Keeps the longest convertible prefix (the sign and ``limit`` digits) as the value."""
        text = "".join(self._number)
        sign = 1 if text.startswith("-") else 0
        self._number = [text[: sign + limit]]
        self._number_state = _N_INT
        self._int_digits = limit
        return self._fail(_integer_too_long(self._number_start, limit))

    def _number_length(self, start: int, index: int) -> int:
        return sum(len(piece) for piece in self._number) + index - start

    def _number_value(self) -> Any:
        """The number read so far, or its longest valid prefix (``None`` for a lone '-')."""
        number = self._number
        text = number[0] if len(number) == 1 else "".join(number)
        if len(number) > 1:
            self._number = [text]
        state = self._number_state
        if state == _N_ZERO or state == _N_INT:
            return int(text)
        if state == _N_FRACTION or state == _N_EXPONENT_DIGITS:
            return float(text)
        if state == _N_DOT:
            return int(text[:-1])
        if state == _N_EXPONENT or state == _N_EXPONENT_SIGN:
            mantissa = text[: self._mantissa_length]
            return float(mantissa) if self._has_fraction else int(mantissa)
        return None

    # -- literals -------------------------------------------------------------

    def _scan_literal(self, text: str, index: int, end: int) -> int:
        word = self._literal
        matched = self._literal_matched
        while index < end and matched < len(word):
            if text[index] != word[matched]:
                return self._fail(_unexpected(text[index], self._offset + index, f"the literal {word!r}"))
            matched += 1
            index += 1
        self._literal_matched = matched
        if matched == len(word):
            self._finish_scalar(_LITERAL_VALUES[word])
        return index

    # -- the best-effort value ------------------------------------------------

    def _materialize(self) -> Any:
        mode = self._mode
        if mode == _STRING and not self._in_key:
            partial: Any = self._partial_string()
        elif mode == _NUMBER:
            if self._number_state <= _N_MINUS:
                return self._root
            partial = self._number_value()
        elif mode == _LITERAL:
            partial = _LITERAL_VALUES[self._literal]
        else:
            return self._root
        top = self._top
        if top is None:
            return partial
        if self._top_is_object:
            top[self._key] = partial
        elif self._slot_filled:
            top[-1] = partial
        else:
            top.append(partial)
        self._slot_filled = True
        return self._root


def _merger_from_text(text: str) -> JsonDeltaMerger:
    """Unpickles a merger: the same text fed anew gives the same state."""
    merger = JsonDeltaMerger()
    merger.feed(text)
    return merger


def parse_partial_json(text: str, default: Any = None) -> Any:
    """The best-effort value of ``text`` (a JSON document or a prefix of one), else ``default``.

    Text that stops being valid JSON gives the value of its longest valid prefix.
    """
    merger = JsonDeltaMerger()
    merger.feed(text)
    return merger.value if merger.has_value else default
