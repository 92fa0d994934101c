// A scriptable SMSC for the SMS channel's tests, on the npm `smpp` package.
//
//   node smsc.js PORT SYSTEM_ID PASSWORD [KEY_FILE CERT_FILE]
//
// Listens for ESMEs on PORT (0: any free port), with KEY_FILE and CERT_FILE over TLS on another
// free port as well, and for the tests on a control port of its own; prints {"port": N,
// "tls": T or null, "control": M} as the first line of stdout. The control port speaks one
// JSON object per line each way: {"cmd": "name", ...arguments} in, {"ok": true, ...} or
// {"error": "..."} out. It exits when its stdin closes, so it never outlives the test run.
'use strict';

const fs = require('fs');
const net = require('net');
const readline = require('readline');
const smpp = require('smpp');

const [port, systemId, password] = [Number(process.argv[2] || 0), process.argv[3], process.argv[4]];
const [keyFile, certFile] = [process.argv[5], process.argv[6]];
if (systemId === undefined || password === undefined) {
  process.stderr.write('usage: node smsc.js PORT SYSTEM_ID PASSWORD\n');
  process.exit(2);
}

// What the script says about the next submits; `reset` puts it back.
let script;
// Everything the ESMEs sent and the simulator did, in order, for the tests to assert on.
let log;
// The session that bound last as a receiver or transceiver: where deliver_sm, unbind and the
// like go.
let esme;
let nextMessageId = 0;
// deliver_sm fields whose deliver_sm_resp never came before their session closed: a real SMSC
// delivers them again on the ESME's next receiving bind.
let undelivered;
// Connections the simulator opened to an ESME for an outbind.
const outbound = [];

function reset() {
  // `refusals` by the submit's number since the reset, from 1: the status it is answered;
  // `ids`: the message ids the next submits are answered with, in order.
  script = {
    throttle: 0, queueFull: 0, silence: 0, hold: false, held: [], submits: 0, refusals: new Map(),
    ids: [],
  };
  log = [];
  esme = null;
  undelivered = [];
}
reset();

function record(entry) {
  log.push(entry);
}

// Message ids in hex with letters in them, as many SMSCs answer, so that the client's
// normalisation (case, leading zeros) has something to do; those the script names first.
function newMessageId() {
  if (script.ids.length > 0) return script.ids.shift();
  nextMessageId += 1;
  return (0xabc00000 + nextMessageId).toString(16);
}

const BINDS = ['bind_transceiver', 'bind_transmitter', 'bind_receiver'];

// `smpp` decodes short_message into {udh, message}; the log keeps both readable.
function decodedText(value) {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value.message) ? value.message.toString('hex') : value.message;
}

function udhHex(value) {
  if (value && Array.isArray(value.udh)) return value.udh.map((part) => part.toString('hex'));
  return [];
}

function onSession(session) {
  // A socket error (the ESME reset the connection) must not end the simulator.
  session.on('error', (error) => record({ type: 'error', message: String(error.message) }));
  // deliver_sm sent on this session and not answered yet, by sequence number.
  session.unanswered = new Map();
  session.on('close', () => {
    record({ type: 'closed' });
    if (esme === session) esme = null;
    undelivered.push(...session.unanswered.values());
    session.unanswered.clear();
  });

  for (const command of BINDS) {
    session.on(command, (pdu) => {
      let status = smpp.ESME_ROK;
      if (pdu.system_id !== systemId) status = smpp.ESME_RINVSYSID;
      else if (pdu.password !== password) status = smpp.ESME_RINVPASWD;
      record({
        type: command,
        system_id: pdu.system_id,
        system_type: pdu.system_type,
        address_range: pdu.address_range,
        status,
      });
      session.send(pdu.response({ command_status: status, system_id: 'smsc-sim' }));
      if (status !== smpp.ESME_ROK || command === 'bind_transmitter') return;
      esme = session;
      for (const fields of undelivered.splice(0)) {
        const sent = sendRequest('deliver_sm', fields);
        record({ type: 'redelivered', sequence: sent.sequence });
      }
    });
  }

  session.on('submit_sm', (pdu) => {
    const messageId = newMessageId();
    let status = smpp.ESME_ROK;
    script.submits += 1;
    if (script.refusals.has(script.submits)) {
      status = script.refusals.get(script.submits);
      script.refusals.delete(script.submits);
    } else if (script.throttle > 0) {
      script.throttle -= 1;
      status = smpp.ESME_RTHROTTLED;
    } else if (script.queueFull > 0) {
      script.queueFull -= 1;
      status = smpp.ESME_RMSGQFUL;
    }
    const silent = script.silence > 0;
    if (silent) script.silence -= 1;
    record({
      type: 'submit_sm',
      sequence: pdu.sequence_number,
      message_id: status === smpp.ESME_ROK && !silent ? messageId : null,
      status,
      answered: !silent,
      source_addr: pdu.source_addr,
      destination_addr: pdu.destination_addr,
      esm_class: pdu.esm_class,
      data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      text: decodedText(pdu.short_message),
      udh: udhHex(pdu.short_message),
      message_payload: decodedText(pdu.message_payload),
      // SMPP 3.4 5.3.2.22-24: a long message's part by TLVs, as [reference, total, seq].
      sar: pdu.sar_msg_ref_num === undefined
        ? null
        : [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum],
    });
    if (silent) return;
    const response = status === smpp.ESME_ROK
      ? pdu.response({ message_id: messageId })
      : pdu.response({ command_status: status });
    if (script.hold) script.held.push([session, response]);
    else session.send(response);
  });

  session.on('enquire_link', (pdu) => {
    record({ type: 'enquire_link', sequence: pdu.sequence_number });
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    record({ type: 'unbind', sequence: pdu.sequence_number });
    session.send(pdu.response(), () => session.close());
  });

  // Answers to what the simulator sent; the statuses are what the tests look at.
  for (const command of ['deliver_sm_resp', 'unbind_resp', 'enquire_link_resp', 'generic_nack']) {
    session.on(command, (pdu) => {
      // An error status is an answer too; only a missing one makes the SMSC deliver again.
      if (command === 'deliver_sm_resp') session.unanswered.delete(pdu.sequence_number);
      record({ type: command, sequence: pdu.sequence_number, status: pdu.command_status });
    });
  }
}

// {"hex": "..."} anywhere in a deliver's fields stands for those bytes (UDH, binary payloads).
function bytesFromJson(value) {
  if (value && typeof value === 'object' && typeof value.hex === 'string') {
    return Buffer.from(value.hex, 'hex');
  }
  return value;
}

function boundEsme() {
  if (!esme) throw new Error('no ESME is bound');
  return esme;
}

// Sends a request PDU to the bound ESME; the control answer carries its sequence number.
function sendRequest(command, fields) {
  const pdu = new smpp.PDU(command, fields);
  const session = boundEsme();
  session.send(pdu); // numbers the PDU
  if (command === 'deliver_sm') session.unanswered.set(pdu.sequence_number, fields);
  record({ type: `sent_${command}`, sequence: pdu.sequence_number });
  return { sequence: pdu.sequence_number };
}

// Appendix B of SMPP 3.4: the text receipt most SMSCs send.
function receiptText(messageId, stat, err) {
  return `id:${messageId} sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 `
    + `stat:${stat} err:${err} text:`;
}

const MESSAGE_STATES = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, REJECTD: 8 };

function header(length, commandId, sequence) {
  const buffer = Buffer.alloc(16);
  buffer.writeUInt32BE(length, 0);
  buffer.writeUInt32BE(commandId, 4);
  buffer.writeUInt32BE(0, 8);
  buffer.writeUInt32BE(sequence, 12);
  return buffer;
}

const COMMANDS = {
  // Forget the script and the log and drop every connection: each test starts clean.
  reset() {
    for (const session of esmeSessions()) session.destroy();
    reset();
    return {};
  },
  // The log so far (see record() calls for the entries).
  log() {
    return { log };
  },
  // The next `count` submits are answered ESME_RTHROTTLED.
  throttle({ count = 1 }) {
    script.throttle += count;
    return {};
  },
  // The next `count` submits are answered ESME_RMSGQFUL.
  queue_full({ count = 1 }) {
    script.queueFull += count;
    return {};
  },
  // The `nth` submit from now (1: the next) is answered `status`, an SMPP status name
  // (ESME_RTHROTTLED, ESME_RINVDSTADR): a refusal in the middle of a long message's parts.
  refuse({ status, nth = 1 }) {
    if (typeof smpp[status] !== 'number') throw new Error(`unknown status ${status}`);
    script.refusals.set(script.submits + nth, smpp[status]);
    return {};
  },
  // The next `count` submits get no answer at all (the client's response timeout).
  silence({ count = 1 }) {
    script.silence += count;
    return {};
  },
  // The next submits are answered with these message ids, in order (an SMSC's own format).
  message_ids({ ids }) {
    script.ids.push(...ids);
    return {};
  },
  // Keep the answers to submits until `release` (a full window; a receipt before its answer).
  hold() {
    script.hold = true;
    return {};
  },
  // Send the held answers, in the order the submits came, and stop holding.
  release() {
    const held = script.held;
    script.hold = false;
    script.held = [];
    for (const [session, response] of held) session.send(response);
    return { released: held.length };
  },
  // A deliver_sm to the bound ESME: `text` (encoded by `smpp` after data_coding) or
  // `short_message` {"hex"}, with any deliver_sm field or TLV by its SMPP name.
  deliver({ source = '79161234567', destination = '1234', text, ...fields }) {
    const options = { source_addr: source, destination_addr: destination };
    for (const [name, value] of Object.entries(fields)) options[name] = bytesFromJson(value);
    if (text !== undefined) {
      options.short_message = options.udh ? { udh: options.udh, message: text } : text;
      delete options.udh;
    }
    return sendRequest('deliver_sm', options);
  },
  // A delivery receipt for `message_id`: format "text" (Appendix B), "tlvs"
  // (receipted_message_id, message_state) or "both".
  receipt({ message_id: messageId, stat = 'DELIVRD', err = '000', format = 'text' }) {
    const options = {
      source_addr: '79161234567',
      destination_addr: '1234',
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      data_coding: 0,
    };
    if (format === 'text' || format === 'both') {
      options.short_message = receiptText(messageId, stat, err);
    }
    if (format === 'tlvs' || format === 'both') {
      options.receipted_message_id = messageId;
      options.message_state = MESSAGE_STATES[stat] || 7;
    }
    return sendRequest('deliver_sm', options);
  },
  // The SMSC ends the session; the ESME's unbind_resp shows in the log.
  unbind() {
    return sendRequest('unbind', {});
  },
  // An enquire_link answered before the control reply: everything the ESME sent before that
  // answer is in the log by then (a barrier, not a timer).
  ping() {
    return new Promise((resolve, reject) => {
      const sent = boundEsme().enquire_link({}, (response) => {
        resolve({ status: response.command_status });
      });
      if (!sent) reject(new Error('the ESME connection is not writable'));
    });
  },
  // A PDU SMPP cannot read: "command_length" (below the 16-byte header: the stream is lost),
  // "command_id" (unknown to SMPP 3.4, framed correctly) or "body" (a deliver_sm cut short).
  malformed({ kind, sequence = 0x7000 }) {
    let bytes;
    if (kind === 'command_length') bytes = header(8, 0x00000005, sequence);
    else if (kind === 'command_id') bytes = header(16, 0x00000777, sequence);
    else if (kind === 'body') bytes = Buffer.concat([header(19, 0x00000005, sequence), Buffer.from('ab\0')]);
    else throw new Error(`unknown malformed kind ${kind}`);
    boundEsme().socket.write(bytes);
    record({ type: 'sent_malformed', kind, sequence });
    return { sequence };
  },
  // Close every ESME connection at once, without an unbind (a network fault): with a FIN,
  // or with `reset` a TCP RST, which the client reads as an error rather than an end.
  drop({ reset = false }) {
    const sessions = esmeSessions();
    for (const session of sessions) {
      if (reset) session.socket.resetAndDestroy();
      else session.destroy();
    }
    return { dropped: sessions.length };
  },
  // SMPP 3.4 4.1.7: connect to the ESME's outbind listener and send outbind; the ESME's
  // bind_receiver on that connection is answered like any bind, and it becomes the ESME.
  outbind({ port: esmePort, system_id: id = systemId, password: secret = password }) {
    return new Promise((resolve) => {
      const session = smpp.connect({ host: '127.0.0.1', port: esmePort }, () => {
        outbound.push(session);
        session.on('close', () => outbound.splice(outbound.indexOf(session), 1));
        onSession(session);
        session.send(new smpp.PDU('outbind', { system_id: id, password: secret }));
        record({ type: 'sent_outbind', system_id: id });
        resolve({});
      });
      session.on('error', (error) => resolve({ error: String(error.message) }));
    });
  },
  // For the benchmark (bench/sms.py): from now until `reset`, count the log's entries by type
  // instead of keeping them (5,000 kept entries cost the simulator time the bench would bill
  // to the client); `log` then answers {"log": {"counts": {type: n}}}.
  quiet() {
    log = new Tally();
    return {};
  },
  // For the benchmark: `count` deliver_sm to the bound ESME, each from its own number
  // (`first_source` + i) with its own text (`text` and i), never more than `window` of them
  // unanswered. Returns at once; `deliveries` tells how far it got.
  deliver_many({
    count, window = 10, first_source = 79000000000, destination = '1234', text = 'SMS', data_coding = 8,
  }) {
    const session = boundEsme();
    const run = { count, sent: 0, answered: 0, refused: 0, started: process.hrtime.bigint(), seconds: null };
    bulk = run;
    const fill = () => {
      while (run.sent < count && run.sent - run.answered < window) {
        const fields = {
          source_addr: String(first_source + run.sent),
          destination_addr: destination,
          short_message: `${text} ${run.sent + 1}`,
          data_coding,
        };
        run.sent += 1;
        session.deliver_sm(fields, (response) => {
          run.answered += 1;
          if (response.command_status !== smpp.ESME_ROK) run.refused += 1;
          if (run.answered === count) run.seconds = Number(process.hrtime.bigint() - run.started) / 1e9;
          else fill();
        });
      }
    };
    fill();
    return {};
  },
  // How far the last deliver_many got: sent, answered, refused (a status other than ESME_ROK),
  // and once every one is answered the seconds from its first deliver_sm to its last answer.
  deliveries() {
    if (!bulk) throw new Error('no deliver_many has run');
    const { count, sent, answered, refused, seconds } = bulk;
    return { count, sent, answered, refused, seconds };
  },
};

// The log while quiet: a count of entries by type.
class Tally {
  constructor() {
    this.counts = {};
  }

  push(entry) {
    this.counts[entry.type] = (this.counts[entry.type] || 0) + 1;
  }
}
// The last deliver_many's progress.
let bulk = null;

const server = smpp.createServer(onSession);
const secure = keyFile
  ? smpp.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, onSession)
  : null;
// Every ESME connection, plain or TLS (drop and reset close them all).
function esmeSessions() {
  return [...server.sessions, ...(secure ? secure.sessions : []), ...outbound];
}

function serveControl(socket) {
  const lines = readline.createInterface({ input: socket });
  lines.on('line', async (line) => {
    let reply;
    try {
      const { cmd, ...args } = JSON.parse(line);
      if (!Object.hasOwn(COMMANDS, cmd)) throw new Error(`unknown command ${cmd}`);
      reply = { ok: true, ...(await COMMANDS[cmd](args)) };
    } catch (error) {
      reply = { error: String(error.message) };
    }
    socket.write(`${JSON.stringify(reply)}\n`);
  });
  socket.on('error', () => {});
}

const control = net.createServer(serveControl);
function listening(listener) {
  return new Promise((resolve) => listener.listen(listener === server ? port : 0, '127.0.0.1', resolve));
}
Promise.all([server, control, ...(secure ? [secure] : [])].map(listening)).then(() => {
  const ports = {
    port: server.address().port,
    tls: secure ? secure.address().port : null,
    control: control.address().port,
  };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
