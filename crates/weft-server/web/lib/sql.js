// The ksqlDB dialect in the browser: a tokenizer for highlighting, statement helpers, and push queries
// streamed from POST /query. Owned by the web-pages helper (used by pages/create.js).

import { api, getActor } from './api.js';

// Words highlighted as keywords. The engine does not reserve words (the parser decides by position),
// so this list is for the eye only: the statements, clauses and types of the ksqlDB reference.
const KEYWORD_LIST = `SELECT FROM WHERE GROUP BY HAVING PARTITION EMIT CHANGES FINAL LIMIT AS AND OR NOT NULL IS IN
  BETWEEN LIKE CASE WHEN THEN ELSE END CREATE OR REPLACE STREAM STREAMS TABLE TABLES SOURCE WITH INSERT INTO VALUES
  DROP DELETE TOPIC TOPICS TERMINATE SHOW LIST DESCRIBE EXTENDED EXPLAIN PRINT QUERY QUERIES PROPERTIES FUNCTIONS
  FUNCTION SET UNSET IF EXISTS JOIN INNER LEFT RIGHT FULL OUTER ON WITHIN WINDOW TUMBLING HOPPING SESSION SIZE ADVANCE
  RETENTION GRACE PERIOD KEY PRIMARY HEADERS HEADER CAST STRUCT ARRAY MAP BOOLEAN INT INTEGER BIGINT DOUBLE DECIMAL
  STRING VARCHAR BYTES DATE TIME TIMESTAMP TRUE FALSE DISTINCT ALL ASC DESC SECOND SECONDS MINUTE MINUTES HOUR HOURS
  DAY DAYS MILLISECOND MILLISECONDS BEGINNING INTERVAL EXPLODE`;
export const KEYWORDS = new Set(KEYWORD_LIST.split(/\s+/).filter(Boolean));

/**
 * Splits text into tokens for highlighting: {type, text} with type one of
 * keyword, ident, quoted, string, number, comment, op, space. Never fails: unfinished strings and
 * comments run to the end of the text, as the engine's lexer would report them.
 */
export function tokenize(text) {
  const tokens = [];
  let i = 0;
  const push = (type, end) => {
    tokens.push({ type, text: text.slice(i, end) });
    i = end;
  };
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i, i + 2);
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j])) j++;
      push('space', j);
    } else if (rest === '--') {
      const j = text.indexOf('\n', i);
      push('comment', j < 0 ? text.length : j);
    } else if (rest === '/*') {
      const j = text.indexOf('*/', i + 2);
      push('comment', j < 0 ? text.length : j + 2);
    } else if (c === "'" || c === '`' || c === '"') {
      // Quotes are escaped by doubling them, in strings and quoted identifiers alike.
      let j = i + 1;
      while (j < text.length) {
        if (text[j] === c) {
          if (text[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      push(c === "'" ? 'string' : 'quoted', Math.min(j + 1, text.length));
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
      push('number', i + m[0].length);
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_@$]*/.exec(text.slice(i));
      push(KEYWORDS.has(m[0].toUpperCase()) ? 'keyword' : 'ident', i + m[0].length);
    } else {
      push('op', i + 1);
    }
  }
  return tokens;
}

/** Runs statements through POST /ksql; resolves to ksqlDB's entities, rejects with an ApiError. */
export function ksql(statements, properties = {}, signal) {
  return api('/ksql', { method: 'POST', body: { ksql: statements, streamsProperties: properties }, signal });
}

/** Checks statements without running them (POST /api/v1/sql/validate). */
export function validateSql(sql, signal) {
  return api('/api/v1/sql/validate', { method: 'POST', body: { sql }, signal });
}

/**
 * The push query that previews `select`: a trailing `;` dropped, `EMIT CHANGES` added when missing
 * (a CREATE ... AS SELECT's query does not need it, a push query does) and a LIMIT so it ends.
 */
export function previewQuery(select, limit) {
  let text = select.trim().replace(/;+\s*$/, '');
  const hasLimit = /\blimit\s+\d+\s*$/i.test(text);
  if (!/\bemit\s+(changes|final)\b/i.test(text)) {
    if (hasLimit) text = text.replace(/\s*\blimit\s+\d+\s*$/i, ` EMIT CHANGES LIMIT ${limit}`);
    else text += ' EMIT CHANGES';
  }
  if (!/\blimit\s+\d+\s*$/i.test(text)) text += ` LIMIT ${limit}`;
  return `${text};`;
}

/** Column names and types of a query header's schema text: "`ID` STRING KEY, `S` STRUCT<A INT, B INT>". */
export function parseSchema(schema) {
  const columns = [];
  let depth = 0;
  let start = 0;
  const take = (part) => {
    const m = /^\s*`((?:[^`]|``)*)`\s+(.*?)\s*$/.exec(part) || /^\s*(\S+)\s+(.*?)\s*$/.exec(part);
    if (m) columns.push({ name: m[1].replace(/``/g, '`'), type: m[2] });
  };
  for (let i = 0; i < schema.length; i++) {
    const c = schema[i];
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      take(schema.slice(start, i));
      start = i + 1;
    }
  }
  if (schema.slice(start).trim()) take(schema.slice(start));
  return columns;
}

/**
 * Streams a push query from POST /query. Calls onHeader({queryId, schema}) once, onRow(columns) per
 * row, and resolves with how it ended: {reason: 'limit' | 'end' | 'aborted'}. Rejects with an Error
 * carrying `status` and `code` when the engine refuses the query or fails while streaming.
 */
export async function streamQuery(sql, { properties = {}, signal, onHeader, onRow } = {}) {
  let response;
  try {
    response = await fetch('/query', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'X-Weft-Actor': getActor(),
      },
      body: JSON.stringify({ ksql: sql, streamsProperties: properties }),
      signal,
    });
  } catch (e) {
    if (signal && signal.aborted) return { reason: 'aborted' };
    throw e;
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    const error = new Error((body && body.message) || `the query failed (HTTP ${response.status})`);
    error.status = response.status;
    error.code = body && body.error_code;
    throw error;
  }
  // The body is a JSON array written one element per line: "[{header}", ",\n{row}", ..., "]\n".
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let whole = '';
  let sawHeader = false;
  let reason = 'end';
  // One element of the array, or null when `line` is not (yet) a whole element.
  const parse = (line) => {
    let text = line.trim();
    if (text.startsWith('[')) text = text.slice(1);
    while (text.endsWith(',') || text.endsWith(']')) text = text.slice(0, -1).trimEnd();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null; // A pull query's answer is one line holding the whole array: read at the end.
    }
  };
  const handle = (line) => {
    const item = parse(line);
    if (!item) return false;
    if (item.header) {
      sawHeader = true;
      if (onHeader) onHeader(item.header);
    } else if (item.row) {
      if (onRow) onRow(item.row.columns);
    } else if (item.finalMessage) {
      reason = 'limit';
    } else if (item.errorMessage) {
      const error = new Error(item.errorMessage.message || 'the query failed');
      error.code = item.errorMessage.error_code;
      throw error;
    }
    return true;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const chunk = decoder.decode(value, { stream: true });
      buffer += chunk;
      if (!sawHeader) whole += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      // The newline comes before the next element, not after this one: show a whole element at once
      // rather than when the next row arrives.
      if (buffer.trim() && handle(buffer)) buffer = '';
    }
    if (buffer.trim()) handle(buffer);
  } catch (e) {
    if (signal && signal.aborted) return { reason: 'aborted' };
    throw e;
  }
  if (!sawHeader && whole.trim().startsWith('[')) {
    // A pull query: one JSON array.
    const items = JSON.parse(whole);
    for (const item of items) {
      if (item.header && onHeader) onHeader(item.header);
      else if (item.row && onRow) onRow(item.row.columns);
    }
  }
  return { reason };
}
