// Real-time text (RTT): ITU-T T.140 over a WebRTC data channel (RFC 8865), for the browser.
//
// The twin of booth/media/t140.py, with the same semantics (tests/browser/test_t140_js.py
// compares both on a shared table of cases). This file is copied unchanged to
// booth/web/t140.js for the booth screens. A plain ES module: no build, no dependencies.
//
// The T.140 data channel: subprotocol "t140", reliable and ordered. T.140 data is UTF-8 text,
// sent in T140blocks, one per data channel message; browsers send them as string messages
// (use channel.binaryType = 'arraybuffer' if a peer sends binary ones). RFC 8865 recommends
// buffering typed text for 300 ms at most; we send every change at once (key-to-screen < 100 ms).
//
// Control functions: BACKSPACE U+0008 erases the last character (a line separator included);
// LINE SEPARATOR U+2028 is a new line (CR LF, lone CR, LF and U+2029 are normalised to it on
// receipt); the BOM U+FEFF is a keep-alive and ignored; U+FFFD marks missing text. Ignored on
// receipt: every other C0/C1 control and DEL; escape sequences (ESC, intermediates, final);
// control sequences (ESC [ or U+009B … final, e.g. graphic rendition ESC [ … m); control
// strings SOS U+0098 / ESC X … ST U+009C / ESC \ (and DCS, OSC, PM, APC); a sequence or string
// longer than MAX_CONTROL_CHARS characters is abandoned. Invalid UTF-8 becomes U+FFFD, and so
// does a lone surrogate. A character is a Unicode code point (not a UTF-16 unit).
//
// Privacy: typed text is personal data. Nothing here logs or stores anything; texts are kept in
// memory only, bounded to MAX_CHARS characters (whole lines are dropped from the start).

/** The data channel subprotocol of a T.140 data channel (RFC 8865). */
export const SUBPROTOCOL = 't140';
/** The data channel label we use for it. */
export const LABEL = 't140';
/** T.140 BACKSPACE: erase the last character. */
export const BACKSPACE = '\u0008';
/** T.140 NEW LINE: the Unicode LINE SEPARATOR. */
export const LINE_SEPARATOR = '\u2028';
/** ZERO WIDTH NO-BREAK SPACE (BOM): a keep-alive, ignored on receipt. */
export const BOM = '\uFEFF';
/** The missing-text marker (REPLACEMENT CHARACTER). */
export const MISSING_TEXT = '\uFFFD';
/** A T140block that only keeps the channel alive. */
export const KEEPALIVE = BOM;
/** Characters an RttText keeps by default. */
export const MAX_CHARS = 4000;
/** A control sequence or string is abandoned after this many characters. */
export const MAX_CONTROL_CHARS = 256;

/**
 * @typedef {{type: 'insert', text: string}} Insert  show text (no controls, no new line)
 * @typedef {{type: 'erase', count: number}} Erase  erase the last count characters
 * @typedef {{type: 'newline'}} NewLine  start a new line
 * @typedef {Insert | Erase | NewLine} Operation
 * @typedef {string | ArrayBuffer | ArrayBufferView} Message  one T140block
 */

const BS = 0x08;
const LF = 0x0a;
const CR = 0x0d;
const ESC = 0x1b;
const DEL = 0x7f;
const CSI = 0x9b;
const ST = 0x9c;
const BOM_CP = 0xfeff;
const STRING_INTRODUCERS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]); // DCS SOS OSC PM APC
const ESC_STRING_FINALS = new Set(Array.from('PX]^_', (c) => c.codePointAt(0)));
const NEWLINES = new Set([LF, CR, 0x2028, 0x2029]);
const OPEN_BRACKET = 0x5b; // [
const BACKSLASH = 0x5c;

// decoder states
const TEXT = 0;
const ESC_SEQ = 1;
const CSI_SEQ = 2;
const STRING = 3;
const STRING_ESC = 4;

/** @param {number} cp */
function isDropped(cp) {
  return cp < 0x20 || (cp >= DEL && cp <= 0x9f) || cp === BOM_CP;
}

/** @param {number} cp */
function isSurrogate(cp) {
  return cp >= 0xd800 && cp <= 0xdfff;
}

/**
 * The text as it is sent and shown: new lines (CR LF, CR, LF, U+2028, U+2029) as U+2028,
 * controls and the BOM removed, lone surrogates as U+FFFD.
 * @param {string} text
 * @returns {string}
 */
export function normalize(text) {
  let out = '';
  let afterCr = false;
  for (const ch of text) {
    const cp = /** @type {number} */ (ch.codePointAt(0));
    if (afterCr && cp === LF) {
      afterCr = false;
      continue;
    }
    afterCr = cp === CR;
    if (NEWLINES.has(cp)) out += LINE_SEPARATOR;
    else if (isDropped(cp)) continue;
    else if (isSurrogate(cp)) out += MISSING_TEXT;
    else out += ch;
  }
  return out;
}

/**
 * One T140block (a string message) with the text normalized; '' for nothing to send.
 * @param {string} text
 * @returns {string}
 */
export function encode(text) {
  return normalize(text);
}

/**
 * A T140block erasing the last n characters ('' for 0).
 * @param {number} [n]
 * @returns {string}
 */
export function encodeErase(n = 1) {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('n must be an integer >= 0');
  return BACKSPACE.repeat(n);
}

/**
 * What to send when a text field's value changes from oldText to newText: the common prefix
 * (after normalize) is kept, the rest of oldText erased (one backspace per character), the rest
 * of newText sent. '' when nothing changed.
 * @param {string} oldText
 * @param {string} newText
 * @returns {string}
 */
export function diffToT140(oldText, newText) {
  const a = Array.from(normalize(oldText));
  const b = Array.from(normalize(newText));
  const n = Math.min(a.length, b.length);
  let common = 0;
  while (common < n && a[common] === b[common]) common += 1;
  return BACKSPACE.repeat(a.length - common) + b.slice(common).join('');
}

/** Incremental decoder: T140blocks in, operations out (state carries over between messages). */
export class T140Decoder {
  constructor() {
    this.reset();
  }

  /** Forget everything pending (a new channel). */
  reset() {
    /** @private */
    this._utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    /** @private */
    this._state = TEXT;
    /** @private */
    this._controlLen = 0;
    /** @private */
    this._afterCr = false;
  }

  /**
   * The operations of one data channel message. A string after binary data that ended inside
   * a UTF-8 sequence ends that sequence (U+FFFD).
   * @param {Message} message
   * @returns {Operation[]}
   */
  decode(message) {
    if (typeof message === 'string') return this._operations(this._utf8.decode() + message);
    let bytes;
    if (message instanceof ArrayBuffer) bytes = new Uint8Array(message);
    else if (ArrayBuffer.isView(message)) {
      bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    } else throw new TypeError('a T140block is a string, an ArrayBuffer or a typed array');
    return this._operations(this._utf8.decode(bytes, { stream: true }));
  }

  /**
   * The end of the channel: an unfinished UTF-8 sequence becomes U+FFFD.
   * @returns {Operation[]}
   */
  flush() {
    return this._operations(this._utf8.decode());
  }

  /**
   * @private
   * @param {string} text
   * @returns {Operation[]}
   */
  _operations(text) {
    /** @type {Operation[]} */
    const ops = [];
    let run = '';
    let erase = 0;
    const close = () => {
      if (run) ops.push({ type: 'insert', text: run });
      if (erase) ops.push({ type: 'erase', count: erase });
      run = '';
      erase = 0;
    };
    for (const ch of text) {
      let cp = /** @type {number} */ (ch.codePointAt(0));
      for (;;) {
        // at most twice: an aborted sequence hands its character back
        let again = false;
        if (this._state === TEXT) {
          const kind = this._text(cp);
          if (kind === 'char') {
            if (erase) close();
            run += isSurrogate(cp) ? MISSING_TEXT : ch;
          } else if (kind === 'erase') {
            if (run) close();
            erase += 1;
          } else if (kind === 'newline') {
            close();
            ops.push({ type: 'newline' });
          }
        } else if (this._controlLen >= MAX_CONTROL_CHARS) {
          this._state = TEXT;
          again = true;
        } else {
          this._controlLen += 1;
          again = this._control(cp);
        }
        if (!again) break;
      }
    }
    close();
    return ops;
  }

  /**
   * @private
   * @param {number} cp
   * @returns {'char' | 'erase' | 'newline' | null}
   */
  _text(cp) {
    if (this._afterCr && cp === LF) {
      this._afterCr = false;
      return null;
    }
    this._afterCr = cp === CR;
    if (NEWLINES.has(cp)) return 'newline';
    if (cp === BS) return 'erase';
    if (cp === ESC) this._enter(ESC_SEQ);
    else if (cp === CSI) this._enter(CSI_SEQ);
    else if (STRING_INTRODUCERS.has(cp)) this._enter(STRING);
    else if (!isDropped(cp)) return 'char';
    return null;
  }

  /**
   * @private
   * @param {number} state
   */
  _enter(state) {
    this._state = state;
    this._controlLen = 0;
  }

  /**
   * Consume cp inside a control; true: it is not part of it, process it as text.
   * @private
   * @param {number} cp
   * @returns {boolean}
   */
  _control(cp) {
    const state = this._state;
    if (state === ESC_SEQ) {
      if (cp === OPEN_BRACKET) this._state = CSI_SEQ;
      else if (ESC_STRING_FINALS.has(cp)) this._state = STRING;
      else if (cp >= 0x20 && cp <= 0x2f) {
        // intermediate
      } else if (cp >= 0x30 && cp <= 0x7e) this._state = TEXT;
      else {
        this._state = TEXT;
        return true;
      }
    } else if (state === CSI_SEQ) {
      if (cp >= 0x20 && cp <= 0x3f) {
        // parameter or intermediate
      } else if (cp >= 0x40 && cp <= 0x7e) this._state = TEXT;
      else {
        this._state = TEXT;
        return true;
      }
    } else if (state === STRING) {
      if (cp === ST) this._state = TEXT;
      else if (cp === ESC) this._state = STRING_ESC;
    } else if (cp === BACKSLASH) this._state = TEXT;
    else if (cp !== ESC) this._state = STRING;
    return false;
  }
}

/**
 * The text of one direction of a conversation, bounded to maxChars characters (code points):
 * past the bound whole lines are dropped from the start (a single longer line keeps its last
 * maxChars characters). Lines are separated by U+2028.
 */
export class RttText {
  /**
   * @param {string} [text]
   * @param {{maxChars?: number}} [options]
   */
  constructor(text = '', { maxChars = MAX_CHARS } = {}) {
    if (!Number.isInteger(maxChars) || maxChars < 1) {
      throw new RangeError('maxChars must be an integer >= 1');
    }
    /** @private @type {string[]} one code point each */
    this._chars = [];
    /** @private */
    this._max = maxChars;
    /** @private */
    this._decoder = new T140Decoder();
    this._append(normalize(text));
  }

  /** The bound on the characters kept. */
  get maxChars() {
    return this._max;
  }

  /** The text, lines separated by U+2028. */
  get text() {
    return this._chars.join('');
  }

  /** Characters (code points) kept. */
  get length() {
    return this._chars.length;
  }

  /**
   * The lines (at least one, maybe empty).
   * @returns {string[]}
   */
  lines() {
    return this.text.split(LINE_SEPARATOR);
  }

  /**
   * Decode one received T140block with this text's own decoder and apply it
   * (Python: RttText.feed).
   * @param {Message} message
   * @returns {Operation[]}
   */
  apply(message) {
    const ops = this._decoder.decode(message);
    this.applyOps(ops);
    return ops;
  }

  /**
   * Apply operations, in order (Python: RttText.apply).
   * @param {Operation[]} ops
   */
  applyOps(ops) {
    for (const op of ops) {
      if (op.type === 'insert') this._append(normalize(op.text));
      else if (op.type === 'erase') this.erase(op.count);
      else this._append(LINE_SEPARATOR);
    }
  }

  /**
   * Erase the last n characters; erasing an empty text does nothing.
   * @param {number} [n]
   */
  erase(n = 1) {
    if (n > 0) this._chars.length = Math.max(0, this._chars.length - n);
  }

  /** Forget the text and anything half-received. */
  clear() {
    this._chars = [];
    this._decoder.reset();
  }

  /**
   * @private
   * @param {string} text  already normalized
   */
  _append(text) {
    for (const ch of text) this._chars.push(ch);
    while (this._chars.length > this._max) {
      const cut = this._chars.indexOf(LINE_SEPARATOR);
      if (cut < 0) this._chars.splice(0, this._chars.length - this._max);
      else this._chars.splice(0, cut + 1);
    }
  }
}
