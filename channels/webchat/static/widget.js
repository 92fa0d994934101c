/*
 * omnirouter web chat widget.
 *
 * Embed with one tag: <script src="https://HOST/chat/widget.js"></script>
 * It uses the element with id "omni-chat" (or [data-omni-chat]) if the page has one,
 * otherwise it creates it where the script tag stands. The stylesheet and the WebSocket
 * are derived from this script's own URL: .../chat/widget.css and ws(s)://HOST/chat/ws.
 *
 * Protocol (docs: CONTRACTS.md, "Web chat"), JSON text frames:
 *   -> hello {session, identity, lang}      <- welcome {session, ticket, last_seq}
 *   -> resume {after_seq}                   <- notice {seq, kind, ticket, text, at, attachments?}
 *   -> message {client_id, text, topic, attachments}
 *                                           <- accepted {client_id, envelope_id, ticket}
 *                                           <- error {code, message}
 * A message stays "sending" until "accepted" (the server persisted it). Unaccepted
 * messages are re-sent after every reconnect with the SAME client_id; the server answers
 * a repeated client_id with the same "accepted" and creates nothing new.
 *
 * All data is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  if (window.__omniChatWidget) {
    return; // included twice: one widget per page
  }
  window.__omniChatWidget = true;

  // document.currentScript is only set while this file runs for the first time.
  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var scriptUrl = new URL(script && script.src ? script.src : "/chat/widget.js", document.baseURI);

  var CSS_URL = new URL("widget.css", scriptUrl).href;
  var WS_URL = (function () {
    var url = new URL("ws", scriptUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    return url.href;
  })();

  // Reconnect backoff: 1 s doubling to 30 s, with jitter so that a restarted daemon is
  // not hit by every open chat at the same instant.
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 30000;

  var KEY_SESSION = "omnirouter.chat.session";
  var KEY_LAST_SEQ = "omnirouter.chat.last_seq";
  // Unaccepted messages survive a page reload in this tab (sessionStorage: not kept after
  // the browser is closed, the text is personal data).
  var KEY_PENDING = "omnirouter.chat.pending";

  // The shipped catalogue (config/categories.toml); "" is sent as null: the router decides.
  var TOPICS = [
    ["", "Не знаю / определить автоматически"],
    ["01", "Справки и выписки"],
    ["02", "Подача заявления"],
    ["03", "Паспорта и водительские удостоверения"],
    ["04", "Льготы, субсидии, компенсации"],
    ["05", "Изменение персональных данных"],
    ["06", "Лицензии и разрешения"],
    ["07", "Статус заявления"],
    ["08", "Жалобы и предложения"],
    ["10", "Доступ к личному кабинету"],
    ["11", "Технический сбой портала"],
    ["12", "Сообщение о мошенничестве"]
  ];

  var STATUS_TEXT = {
    connecting: "Подключение…",
    open: "Подключено",
    closed: "Нет соединения, переподключаемся…"
  };

  var KIND_LABEL = {
    confirmation: "Подтверждение",
    status: "Статус обращения",
    reply: "Ответ специалиста",
    system: "Сообщение системы"
  };

  // ---- storage (may be unavailable: privacy modes, blocked site data) ----

  function storageGet(store, key) {
    try {
      return window[store].getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(store, key, value) {
    try {
      if (value === null) {
        window[store].removeItem(key);
      } else {
        window[store].setItem(key, value);
      }
    } catch (e) {
      /* the chat still works, it just forgets across reloads */
    }
  }

  function loadLastSeq() {
    var n = parseInt(storageGet("localStorage", KEY_LAST_SEQ) || "0", 10);
    return isFinite(n) && n > 0 ? n : 0;
  }

  function loadPending() {
    try {
      var list = JSON.parse(storageGet("sessionStorage", KEY_PENDING) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  // ---- ids ----

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID exists only in secure contexts (https, localhost); same format otherwise.
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  function pageLanguage() {
    var lang = (document.documentElement.lang || "").trim().toLowerCase();
    return lang ? lang.split("-")[0] : "ru";
  }

  // ---- DOM ----

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        node.setAttribute(name, attrs[name]);
      });
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function injectStylesheet() {
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === CSS_URL) {
        return;
      }
    }
    (document.head || document.documentElement).appendChild(
      el("link", { rel: "stylesheet", href: CSS_URL, "data-omni-chat": "" })
    );
  }

  function findOrCreateContainer() {
    var root = document.getElementById("omni-chat") || document.querySelector("[data-omni-chat]:not(link)");
    if (root) {
      return root;
    }
    root = el("section", { id: "omni-chat" });
    if (script && script.parentNode && document.body && document.body.contains(script)) {
      script.parentNode.insertBefore(root, script);
    } else {
      document.body.appendChild(root);
    }
    return root;
  }

  function buildUi(root) {
    root.classList.add("omni-chat");
    root.setAttribute("lang", "ru"); // the UI text is Russian whatever the host page is
    root.setAttribute("aria-labelledby", "omni-title");
    if (root.tagName !== "SECTION" && !root.getAttribute("role")) {
      root.setAttribute("role", "region"); // a landmark, like the <section> we create
    }
    while (root.firstChild) {
      root.removeChild(root.firstChild);
    }

    var ui = {};
    root.appendChild(el("h2", { id: "omni-title", "class": "omni-title" }, "Чат с центром поддержки"));

    ui.status = el("p", { id: "omni-status", "class": "omni-status", role: "status", "data-state": "connecting" },
      STATUS_TEXT.connecting);
    root.appendChild(ui.status);

    ui.ticket = el("p", { id: "omni-ticket", "class": "omni-ticket", hidden: "" });
    root.appendChild(ui.ticket);

    // role="log" sits on a wrapper: it is not an allowed role for <ol>, and the <li>
    // bubbles must stay inside a real list.
    ui.log = el("div", {
      id: "omni-log", "class": "omni-log", role: "log", "aria-live": "polite",
      "aria-relevant": "additions text", "aria-label": "Переписка", tabindex: "0"
    });
    ui.list = el("ol", { "class": "omni-messages" });
    ui.log.appendChild(ui.list);
    root.appendChild(ui.log);

    ui.form = el("form", { id: "omni-form", "class": "omni-form", novalidate: "" });

    var topicField = el("div", { "class": "omni-field" });
    topicField.appendChild(el("label", { "for": "omni-topic" }, "Тема обращения"));
    ui.topic = el("select", { id: "omni-topic", name: "topic" });
    TOPICS.forEach(function (t) {
      ui.topic.appendChild(el("option", { value: t[0] }, t[0] ? t[0] + " — " + t[1] : t[1]));
    });
    topicField.appendChild(ui.topic);
    ui.form.appendChild(topicField);

    var textField = el("div", { "class": "omni-field" });
    textField.appendChild(el("label", { "for": "omni-text" }, "Сообщение"));
    ui.text = el("textarea", {
      id: "omni-text", name: "text", rows: "3", required: "",
      "aria-describedby": "omni-hint omni-error", autocomplete: "off"
    });
    textField.appendChild(ui.text);
    textField.appendChild(el("p", { id: "omni-hint", "class": "omni-hint" },
      "Enter — отправить, Shift+Enter — новая строка. Не сообщайте пароли и коды подтверждения."));
    ui.error = el("p", { id: "omni-error", "class": "omni-error", role: "alert" });
    textField.appendChild(ui.error);
    ui.form.appendChild(textField);

    ui.send = el("button", { type: "submit", "class": "omni-send" }, "Отправить");
    ui.form.appendChild(ui.send);
    root.appendChild(ui.form);
    return ui;
  }

  function formatSize(bytes) {
    if (!isFinite(bytes) || bytes < 0) {
      return "?";
    }
    if (bytes < 1024 * 1024) {
      return Math.max(1, Math.round(bytes / 1024)) + " КБ";
    }
    return (bytes / (1024 * 1024)).toFixed(1).replace(".", ",") + " МБ";
  }

  function formatTime(at) {
    var d = at ? new Date(at) : new Date();
    if (isNaN(d.getTime())) {
      return null;
    }
    return d;
  }

  function timeNode(date) {
    var t = el("time", { datetime: date.toISOString() });
    try {
      t.textContent = date.toLocaleString("ru-RU", {
        day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"
      });
    } catch (e) {
      t.textContent = date.toISOString();
    }
    return t;
  }

  function scrollToEnd(ui) {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // ---- the chat ----

  function Chat(ui) {
    this.ui = ui;
    this.ws = null;
    this.ready = false; // welcome received on the current socket
    this.attempt = 0;
    this.reconnectTimer = null;
    this.session = storageGet("localStorage", KEY_SESSION);
    this.lastSeq = loadLastSeq();
    this.seenSeq = {};
    this.pending = []; // [{client_id, text, topic}] in send order, not yet accepted
    this.bubbles = {}; // client_id -> <li>
    this.accepted = {}; // client_id -> true

    var self = this;
    loadPending().forEach(function (m) {
      if (m && typeof m.client_id === "string" && typeof m.text === "string") {
        self.pending.push({ client_id: m.client_id, text: m.text, topic: m.topic || null });
        self.renderOwn(m.client_id, m.text);
      }
    });
  }

  Chat.prototype.setStatus = function (state) {
    if (this.ui.status.getAttribute("data-state") === state) {
      return; // role="status" announces every change: do not repeat the same text
    }
    this.ui.status.setAttribute("data-state", state);
    this.ui.status.textContent = STATUS_TEXT[state];
  };

  Chat.prototype.showTicket = function (number) {
    if (number === null || number === undefined || number === "") {
      return;
    }
    this.ui.ticket.textContent = "Ваше обращение № " + number;
    this.ui.ticket.hidden = false;
  };

  Chat.prototype.showError = function (text) {
    this.ui.error.textContent = text || "";
  };

  Chat.prototype.connect = function () {
    var self = this;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.ready = false;
    this.setStatus(this.attempt === 0 ? "connecting" : "closed");
    var ws;
    try {
      ws = new WebSocket(WS_URL);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", function () {
      if (self.ws !== ws) {
        return;
      }
      self.sendFrame({
        type: "hello",
        session: self.session || null,
        identity: null,
        lang: pageLanguage()
      });
    });
    ws.addEventListener("message", function (event) {
      if (self.ws === ws) {
        self.onFrame(event.data);
      }
    });
    ws.addEventListener("close", function () {
      if (self.ws === ws) {
        self.ws = null;
        self.ready = false;
        self.setStatus("closed");
        self.scheduleReconnect();
      }
    });
    // "error" is always followed by "close", which does the work.
  };

  Chat.prototype.scheduleReconnect = function () {
    if (this.reconnectTimer !== null) {
      return;
    }
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, this.attempt));
    // "Equal jitter": between half and all of the ceiling, never an instant retry loop.
    var delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    var self = this;
    this.reconnectTimer = setTimeout(function () {
      self.reconnectTimer = null;
      self.connect();
    }, delay);
  };

  Chat.prototype.reconnectNow = function () {
    if (this.ws === null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.connect();
    }
  };

  Chat.prototype.sendFrame = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  Chat.prototype.sendMessage = function (m) {
    return this.sendFrame({
      type: "message",
      client_id: m.client_id,
      text: m.text,
      topic: m.topic,
      attachments: []
    });
  };

  Chat.prototype.savePending = function () {
    storageSet("sessionStorage", KEY_PENDING, this.pending.length ? JSON.stringify(this.pending) : null);
  };

  Chat.prototype.submit = function (text, topic) {
    if (!text.trim()) {
      this.showError("Введите текст сообщения.");
      return false;
    }
    this.showError("");
    var m = { client_id: newClientId(), text: text, topic: topic || null };
    this.pending.push(m);
    this.savePending();
    this.renderOwn(m.client_id, m.text);
    if (this.ready) {
      this.sendMessage(m);
    } // else: sent after the next welcome
    return true;
  };

  Chat.prototype.onFrame = function (data) {
    var frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!frame || typeof frame !== "object") {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.onWelcome(frame);
        break;
      case "accepted":
        this.onAccepted(frame);
        break;
      case "notice":
        this.onNotice(frame);
        break;
      case "error":
        this.onError(frame);
        break;
      default:
        break; // fields and frame types may be added by newer servers
    }
  };

  Chat.prototype.onWelcome = function (frame) {
    if (typeof frame.session === "string" && frame.session) {
      if (this.session && frame.session !== this.session) {
        // The server started a new session: the old sequence numbers mean nothing now.
        this.lastSeq = 0;
        this.seenSeq = {};
        storageSet("localStorage", KEY_LAST_SEQ, null);
      }
      this.session = frame.session;
      storageSet("localStorage", KEY_SESSION, frame.session);
    }
    this.showTicket(frame.ticket);
    this.ready = true;
    this.attempt = 0; // reset only now: a server that accepts and drops must still back off
    this.setStatus("open");
    this.sendFrame({ type: "resume", after_seq: this.lastSeq });
    var self = this;
    this.pending.forEach(function (m) {
      self.sendMessage(m); // same client_id: the server dedupes
    });
  };

  Chat.prototype.onAccepted = function (frame) {
    var id = frame.client_id;
    if (typeof id !== "string") {
      return;
    }
    this.pending = this.pending.filter(function (m) {
      return m.client_id !== id;
    });
    this.savePending();
    if (this.accepted[id]) {
      return; // answer to a re-send of a message already shown as accepted
    }
    this.accepted[id] = true;
    this.showError("");
    var ticket = frame.ticket && typeof frame.ticket === "object" ? frame.ticket : {};
    var li = this.bubbles[id];
    if (li) {
      li.setAttribute("data-state", "accepted");
      if (ticket.number !== undefined && ticket.number !== null) {
        li.setAttribute("data-ticket", String(ticket.number));
      }
      var meta = li.querySelector(".omni-msg-state");
      var parts = ["Принято"];
      if (ticket.number !== undefined && ticket.number !== null) {
        parts.push((ticket.is_new ? "создано обращение № " : "обращение № ") + ticket.number);
      }
      if (ticket.category && ticket.category.name) {
        parts.push(ticket.category.name);
      }
      meta.textContent = parts.join(" · ");
    }
    this.showTicket(ticket.number);
  };

  Chat.prototype.onNotice = function (frame) {
    var seq = Number(frame.seq);
    if (!isFinite(seq) || seq <= 0 || this.seenSeq[seq]) {
      return;
    }
    this.seenSeq[seq] = true;
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      storageSet("localStorage", KEY_LAST_SEQ, String(seq));
    }
    var li = el("li", {
      "class": "omni-msg omni-msg--notice",
      "data-seq": String(seq),
      "data-state": "accepted", // a notice exists only once the server has stored it
      "data-kind": String(frame.kind || "system")
    });
    var head = el("p", { "class": "omni-msg-meta" });
    head.appendChild(el("span", { "class": "omni-msg-author" },
      "Центр поддержки" + (KIND_LABEL[frame.kind] ? " — " + KIND_LABEL[frame.kind] : "")));
    var when = formatTime(frame.at);
    if (when) {
      head.appendChild(document.createTextNode(" "));
      head.appendChild(timeNode(when));
    }
    li.appendChild(head);
    li.appendChild(el("p", { "class": "omni-msg-text" }, frame.text || ""));
    if (Array.isArray(frame.attachments) && frame.attachments.length) {
      var files = el("ul", { "class": "omni-msg-files", "aria-label": "Вложения" });
      var self = this;
      frame.attachments.forEach(function (file) {
        var button = el("button", { "type": "button", "class": "omni-file" },
          String(file.filename) + " (" + formatSize(Number(file.size)) + ")");
        button.addEventListener("click", function () {
          self.download(file, button);
        });
        var item = el("li", {});
        item.appendChild(button);
        files.appendChild(item);
      });
      li.appendChild(files);
    }
    if (frame.ticket !== undefined && frame.ticket !== null) {
      li.setAttribute("data-ticket", String(frame.ticket));
      this.showTicket(frame.ticket);
    }
    this.ui.list.appendChild(li);
    scrollToEnd(this.ui);
  };

  // A file from the centre: the session token goes in a header (never in a URL, where it
  // would end up in histories and logs), so the file is fetched and handed over as a blob.
  Chat.prototype.download = function (file, button) {
    var self = this;
    button.disabled = true;
    // Relative to the widget's own origin, not the page's: embedded on the portal, the file is
    // still the daemon's (and the token must never go to the portal's server).
    var url = new URL(String(file.url), scriptUrl).href;
    fetch(url, { headers: { "X-Chat-Session": this.session || "" }, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.blob();
      })
      .then(function (blob) {
        var link = el("a", { "href": URL.createObjectURL(blob), "download": String(file.filename) });
        document.body.appendChild(link);
        link.click();
        document.body.removeChild(link);
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
      })
      .catch(function (error) {
        self.showError("Файл не загрузился (" + error.message + "), попробуйте ещё раз.");
      })
      .then(function () {
        button.disabled = false;
      });
  };

  Chat.prototype.onError = function (frame) {
    var text = frame.message ? String(frame.message) : "Ошибка: " + String(frame.code || "неизвестная");
    this.showError(text);
    var id = frame.client_id; // not in the contract yet; used when a server sends it
    if (typeof id === "string" && this.bubbles[id] && !this.accepted[id]) {
      // The server refused this message: stop re-sending it.
      this.pending = this.pending.filter(function (m) {
        return m.client_id !== id;
      });
      this.savePending();
      this.bubbles[id].setAttribute("data-state", "failed");
      this.bubbles[id].querySelector(".omni-msg-state").textContent = "Не отправлено: " + text;
    }
  };

  Chat.prototype.renderOwn = function (clientId, text) {
    var li = el("li", {
      "class": "omni-msg omni-msg--own",
      "data-client-id": clientId,
      "data-state": "sending"
    });
    var head = el("p", { "class": "omni-msg-meta" });
    head.appendChild(el("span", { "class": "omni-msg-author" }, "Вы"));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(timeNode(new Date()));
    li.appendChild(head);
    li.appendChild(el("p", { "class": "omni-msg-text" }, text));
    li.appendChild(el("p", { "class": "omni-msg-state" }, "Отправляется…"));
    this.bubbles[clientId] = li;
    this.ui.list.appendChild(li);
    scrollToEnd(this.ui);
  };

  // ---- start ----

  function start() {
    injectStylesheet();
    var ui = buildUi(findOrCreateContainer());
    var chat = new Chat(ui);

    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (chat.submit(ui.text.value, ui.topic.value)) {
        ui.text.value = "";
      }
      ui.text.focus();
    });

    ui.text.addEventListener("keydown", function (event) {
      // Enter sends, Shift+Enter is a new line; never while an IME is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        if (typeof ui.form.requestSubmit === "function") {
          ui.form.requestSubmit();
        } else {
          ui.form.dispatchEvent(new Event("submit", { cancelable: true }));
        }
      }
    });

    // Back online: do not wait out the backoff.
    window.addEventListener("online", function () {
      chat.reconnectNow();
    });

    chat.connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
