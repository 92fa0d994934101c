/*
 * omnirouter web chat widget.
 *
 * Embed with one tag:
 *   <script src="https://HOST/chat/widget.js" data-lang="ru" data-identity='{...signed...}'></script>
 * It uses the element with id "omni-chat" (or [data-omni-chat]) if the page has one,
 * otherwise it creates it where the script tag stands. The stylesheet, the WebSocket,
 * /chat/config and /chat/upload are derived from this script's own URL.
 * Language: data-lang, else the page's <html lang>, else the browser's; Russian or English.
 * Identity: data-identity, or later window.omniChat.identify(identity) (docs/api.md).
 *
 * Protocol (CONTRACTS.md, "Web chat"), JSON text frames:
 *   -> hello {session, identity, lang}      <- welcome {session, ticket, last_seq, verified, tickets}
 *   -> resume {after_seq}                   <- notice {seq, kind, ticket, text, at, attachments?}
 *   -> message {client_id, text, topic, attachments}
 *                                           <- accepted {client_id, envelope_id, ticket}
 *                                           <- error {code, message, client_id?, retry_after?}
 *                                           <- offline {text}
 *   -> contact {email, phone}               <- contact_saved
 * A message stays "sending" until "accepted" (the server persisted it). Unaccepted
 * messages are re-sent after every reconnect (and after "unavailable", on the open socket after
 * a backoff) with the SAME client_id; the server answers
 * a repeated client_id with the same "accepted" and creates nothing new. A page load
 * resumes after 0: the server's history is the history shown, on any tab or device.
 *
 * All data is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  if (window.omniChat) {
    return; // included twice: one widget per page
  }

  // document.currentScript is only set while this file runs for the first time.
  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var scriptUrl = new URL(script && script.src ? script.src : "/chat/widget.js", document.baseURI);

  function near(path) {
    return new URL(path, scriptUrl).href;
  }

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
  // A message the store could not take ("unavailable": a full disk, say) is sent again on the
  // open socket from 2 s, doubling to 30 s, jittered alike: the cause may last minutes.
  var UNAVAILABLE_FIRST_MS = 2000;

  // The session token: a signed-in user's in localStorage, an anonymous one in sessionStorage
  // (see storedSession).
  var KEY_SESSION = "omnirouter.chat.session";
  // The portal user a stored session belongs to: another user, or nobody, on this browser
  // must not resume it (a shared computer after the portal's logout).
  var KEY_SESSION_USER = "omnirouter.chat.session_user";
  // Unaccepted messages survive a page reload in this tab (sessionStorage: not kept after
  // the browser is closed, the text is personal data), each with the user who wrote it.
  var KEY_PENDING = "omnirouter.chat.pending";

  // File extensions of the type names of `[attachments] allowed`: the browser's pre-check only,
  // the server detects the type by content.
  var EXTENSIONS = {
    pdf: ["pdf"], jpeg: ["jpg", "jpeg", "jfif"], png: ["png"], tiff: ["tif", "tiff"],
    heic: ["heic", "heif"], text: ["txt"], docx: ["docx"], odt: ["odt"], xlsx: ["xlsx"], zip: ["zip"],
    ogg: ["ogg", "oga", "opus"], mp3: ["mp3"], mp4: ["mp4", "m4v", "m4a", "mov", "3gp"],
    webm: ["webm", "mkv"]
  };

  var TEXTS = {
    ru: {
      title: "Чат с центром поддержки",
      connecting: "Подключение…",
      open: "Подключено",
      closed: "Нет соединения, переподключаемся…",
      offline: "Диалог в офлайне: напишите, чтобы продолжить",
      refused: "Чат недоступен",
      verified: "Вы вошли через портал: история ваших обращений сохраняется.",
      tickets: "Ваши обращения",
      ticketBanner: "Ваше обращение № ",
      topic: "Тема обращения",
      topicAuto: "Не знаю / определить автоматически",
      message: "Сообщение",
      hint: "Enter — отправить, Shift+Enter — новая строка. Не сообщайте пароли и коды подтверждения.",
      send: "Отправить",
      attach: "Прикрепить файлы",
      dropHint: "или перетащите их сюда",
      drafts: "Файлы к сообщению",
      log: "Переписка",
      files: "Вложения",
      you: "Вы",
      centre: "Центр поддержки",
      kinds: {
        confirmation: "Подтверждение", status: "Статус обращения",
        reply: "Ответ специалиста", system: "Сообщение системы"
      },
      statuses: {
        accepted: "Принято", in_progress: "В обработке", under_review: "На согласовании",
        awaiting_citizen: "Ожидает ответа заявителя", resolved: "Выполнено", rejected: "Отклонено"
      },
      emptyText: "Введите текст сообщения.",
      sending: "Отправляется…",
      waitingFiles: "Ждёт загрузки файлов…",
      accepted: "Принято",
      newTicket: "создано обращение № ",
      ticketRef: "обращение № ",
      notSent: "Не отправлено: ",
      noFileAccepted: "ни один файл не принят",
      rateLimited: "Слишком часто. Отправим снова через {n} с.",
      tooMany: "Не больше {n} файлов в одном сообщении.",
      tooBig: "«{name}»: больше {size}, файл не загружен.",
      tooBigTotal: "Файлы одного сообщения больше {size} в сумме: «{name}» не загружен.",
      badType: "«{name}»: такой тип файла не принимается (можно: {types}).",
      uploading: "Загружается…",
      clean: "Проверен, угроз нет",
      pending: "Проверяется, сообщение подождёт проверки",
      infected: "Не принят: найдено вредоносное содержимое ({detail})",
      rejected: "Не принят: {detail}",
      scanError: "Не принят: файл не удалось проверить ({detail})",
      uploadFailed: "Не загружен: {detail}",
      uploadRetry: "Нет связи, загрузим, когда она вернётся",
      contactLegend: "Куда ещё прислать ответ",
      email: "Электронная почта",
      phone: "Телефон",
      saveContact: "Сохранить контакт",
      contactSaved: "Контакт сохранён: ответ придёт и туда.",
      // Error codes the widget words itself in the chat's language (the server's messages are
      // Russian); a code not listed here shows the server's message.
      errors: {
        email_invalid: "Адрес почты выглядит неверно.",
        phone_invalid: "Номер телефона выглядит неверно.",
        contact_empty: "Укажите электронную почту или телефон.",
        identity_invalid: "Вход через портал не подтверждён; обновите страницу портала.",
        unavailable: "Не сохранено, повторите позже.",
        empty_text: "Введите текст сообщения.",
        text_too_long: "Сообщение слишком длинное: сократите его или разделите на части.",
        too_many_attachments: "Слишком много файлов в одном сообщении.",
        attachments_too_large: "Файлы сообщения вместе слишком большие.",
        unknown_attachment: "Файл не найден на сервере: прикрепите его снова.",
        bad_json: "Чат не понял запрос; обновите страницу.",
        bad_frame: "Чат не понял запрос; обновите страницу.",
        binary_frame: "Чат не понял запрос; обновите страницу.",
        hello_required: "Чат не понял запрос; обновите страницу.",
        bad_client_id: "Чат не понял запрос; обновите страницу.",
        // Upload answers (docs/api.md, Uploads).
        no_session: "Нет сеанса чата: прикрепите файл снова.",
        body_too_large: "Файл слишком большой.",
        length_required: "Файл не удалось передать.",
        unreadable: "Файл не удалось передать.",
        no_file: "Файл не удалось передать.",
        file_too_large: "Файл слишком большой.",
        attachments_not_accepted: "Файлы в чате не принимаются."
      },
      unavailableRetry: "Не сохранено. Отправим снова через {n} с.",
      downloadFailed: "Файл не загрузился, попробуйте ещё раз.",
      kb: " КБ",
      mb: " МБ"
    },
    en: {
      title: "Support chat",
      connecting: "Connecting…",
      open: "Connected",
      closed: "No connection, reconnecting…",
      offline: "The chat is offline: write to continue",
      refused: "The chat is unavailable",
      verified: "You are signed in through the portal: your requests are kept in your history.",
      tickets: "Your requests",
      ticketBanner: "Your request No. ",
      topic: "Topic",
      topicAuto: "Not sure / detect automatically",
      message: "Message",
      hint: "Enter sends, Shift+Enter starts a new line. Never send passwords or confirmation codes.",
      send: "Send",
      attach: "Attach files",
      dropHint: "or drop them here",
      drafts: "Files for the message",
      log: "Conversation",
      files: "Attachments",
      you: "You",
      centre: "Support centre",
      kinds: {
        confirmation: "Confirmation", status: "Request status",
        reply: "Specialist's answer", system: "System message"
      },
      statuses: {
        accepted: "Accepted", in_progress: "In progress", under_review: "Under review",
        awaiting_citizen: "Awaiting your reply", resolved: "Resolved", rejected: "Rejected"
      },
      emptyText: "Type a message.",
      sending: "Sending…",
      waitingFiles: "Waiting for its files…",
      accepted: "Accepted",
      newTicket: "new request No. ",
      ticketRef: "request No. ",
      notSent: "Not sent: ",
      noFileAccepted: "no file was accepted",
      rateLimited: "Too many messages. Sending again in {n} s.",
      tooMany: "At most {n} files in one message.",
      tooBig: "“{name}” is over {size}: not uploaded.",
      tooBigTotal: "The files of one message are over {size} together: “{name}” not uploaded.",
      badType: "“{name}”: this type of file is not accepted (accepted: {types}).",
      uploading: "Uploading…",
      clean: "Checked: no threats",
      pending: "Being checked; the message waits for the check",
      infected: "Refused: malicious content found ({detail})",
      rejected: "Refused: {detail}",
      scanError: "Refused: the file could not be checked ({detail})",
      uploadFailed: "Not uploaded: {detail}",
      uploadRetry: "No connection; it will upload when the connection returns",
      contactLegend: "Where else to send the answer",
      email: "Email",
      phone: "Phone",
      saveContact: "Save contact",
      contactSaved: "Contact saved: the answer will be sent there too.",
      errors: {
        email_invalid: "This email address does not look right.",
        phone_invalid: "This phone number does not look right.",
        contact_empty: "Give an email address or a phone number.",
        identity_invalid: "Your portal sign-in could not be confirmed; reload the portal page.",
        unavailable: "Not saved; try again later.",
        empty_text: "Type a message.",
        text_too_long: "The message is too long: shorten it or split it into parts.",
        too_many_attachments: "Too many files in one message.",
        attachments_too_large: "The files of the message are too large together.",
        unknown_attachment: "The file was not found on the server: attach it again.",
        bad_json: "The chat did not understand a request; reload the page.",
        bad_frame: "The chat did not understand a request; reload the page.",
        binary_frame: "The chat did not understand a request; reload the page.",
        hello_required: "The chat did not understand a request; reload the page.",
        bad_client_id: "The chat did not understand a request; reload the page.",
        no_session: "No chat session: attach the file again.",
        body_too_large: "The file is too large.",
        length_required: "The file could not be sent.",
        unreadable: "The file could not be sent.",
        no_file: "The file could not be sent.",
        file_too_large: "The file is too large.",
        attachments_not_accepted: "The chat accepts no files."
      },
      unavailableRetry: "Not saved yet. Sending again in {n} s.",
      downloadFailed: "The file did not download, try again.",
      kb: " KB",
      mb: " MB"
    }
  };

  function chooseLanguage() {
    var candidates = [
      script && script.getAttribute("data-lang"),
      document.documentElement.lang
    ].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < candidates.length; i++) {
      var lang = String(candidates[i] || "").trim().toLowerCase().split("-")[0];
      if (TEXTS[lang]) {
        return lang;
      }
    }
    return "ru"; // DOMAIN.md: Russian first
  }

  var LANG = chooseLanguage();
  var T = TEXTS[LANG];

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return String(values[name]);
    });
  }

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

  function loadPending() {
    try {
      var list = JSON.parse(storageGet("sessionStorage", KEY_PENDING) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function storePending(list) {
    storageSet("sessionStorage", KEY_PENDING, list.length ? JSON.stringify(list) : null);
  }

  function readIdentity() {
    var text = script && script.getAttribute("data-identity");
    if (!text) {
      return null;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      console.error("omniChat: data-identity is not JSON; the chat stays anonymous");
      return null;
    }
  }

  // The portal user an identity names ("" for none): whose session the stored token is.
  function userOf(identity) {
    return identity && identity.user_id !== undefined ? String(identity.user_id) : "";
  }

  // The stored token `user` ("" anonymous) may resume, or null. A signed-in user's is kept in
  // localStorage with the user it belongs to (bound to their portal login); an anonymous one
  // only in this tab's sessionStorage, which a reload keeps and closing the browser ends: the
  // next visitor of a shared computer must not resume it (its history, its files, the contact
  // it left).
  function storedSession(user) {
    var kept = storageGet("localStorage", KEY_SESSION);
    var owner = storageGet("localStorage", KEY_SESSION_USER) || "";
    if (kept && !owner) {
      // An anonymous token an older widget kept there: dropped, never resumed.
      storageSet("localStorage", KEY_SESSION, null);
      kept = null;
    }
    if (!user) {
      return storageGet("sessionStorage", KEY_SESSION);
    }
    return kept && owner === user ? kept : null;
  }

  // Keep the token of the session a welcome opened, where storedSession looks for it.
  function keepSession(token, user) {
    storageSet("localStorage", KEY_SESSION, user ? token : null);
    storageSet("localStorage", KEY_SESSION_USER, user || null);
    storageSet("sessionStorage", KEY_SESSION, user ? null : token);
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

  function field(id, label, control) {
    var box = el("div", { "class": "omni-field" });
    box.appendChild(el("label", { "for": id }, label));
    box.appendChild(control);
    return box;
  }

  function injectStylesheet() {
    var href = near("widget.css");
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === href) {
        return;
      }
    }
    (document.head || document.documentElement).appendChild(
      el("link", { rel: "stylesheet", href: href, "data-omni-chat": "" })
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
    root.setAttribute("lang", LANG);
    root.setAttribute("aria-labelledby", "omni-title");
    if (root.tagName !== "SECTION" && !root.getAttribute("role")) {
      root.setAttribute("role", "region"); // a landmark, like the <section> we create
    }
    while (root.firstChild) {
      root.removeChild(root.firstChild);
    }

    var ui = { root: root };
    root.appendChild(el("h2", { id: "omni-title", "class": "omni-title" }, T.title));
    ui.status = el("p", { id: "omni-status", "class": "omni-status", role: "status", "data-state": "connecting" },
      T.connecting);
    root.appendChild(ui.status);
    ui.verified = el("p", { id: "omni-verified", "class": "omni-verified", hidden: "" }, T.verified);
    root.appendChild(ui.verified);

    ui.ticketsBox = el("section", { id: "omni-tickets", "class": "omni-tickets", "aria-labelledby": "omni-tickets-title", hidden: "" });
    ui.ticketsBox.appendChild(el("h3", { id: "omni-tickets-title" }, T.tickets));
    ui.tickets = el("ul", {});
    ui.ticketsBox.appendChild(ui.tickets);
    root.appendChild(ui.ticketsBox);

    ui.ticket = el("p", { id: "omni-ticket", "class": "omni-ticket", hidden: "" });
    root.appendChild(ui.ticket);

    // role="log" sits on a wrapper: it is not an allowed role for <ol>, and the <li>
    // bubbles must stay inside a real list.
    ui.log = el("div", {
      id: "omni-log", "class": "omni-log", role: "log", "aria-live": "polite",
      "aria-relevant": "additions text", "aria-label": T.log, tabindex: "0"
    });
    ui.list = el("ol", { "class": "omni-messages" });
    ui.log.appendChild(ui.list);
    root.appendChild(ui.log);

    ui.contact = el("form", { id: "omni-contact", "class": "omni-contact", novalidate: "", hidden: "" });
    var set = el("fieldset", {});
    set.appendChild(el("legend", {}, T.contactLegend));
    ui.email = el("input", { id: "omni-email", type: "email", name: "email", autocomplete: "email", "aria-describedby": "omni-contact-error" });
    ui.phone = el("input", { id: "omni-phone", type: "tel", name: "phone", autocomplete: "tel", "aria-describedby": "omni-contact-error" });
    set.appendChild(field("omni-email", T.email, ui.email));
    set.appendChild(field("omni-phone", T.phone, ui.phone));
    ui.contactError = el("p", { id: "omni-contact-error", "class": "omni-error", role: "alert" });
    set.appendChild(ui.contactError);
    set.appendChild(el("button", { type: "submit", "class": "omni-button" }, T.saveContact));
    ui.contact.appendChild(set);
    root.appendChild(ui.contact);

    ui.form = el("form", { id: "omni-form", "class": "omni-form", novalidate: "" });
    ui.topic = el("select", { id: "omni-topic", name: "topic" });
    ui.topic.appendChild(el("option", { value: "" }, T.topicAuto));
    ui.topicField = field("omni-topic", T.topic, ui.topic);
    ui.form.appendChild(ui.topicField);

    ui.text = el("textarea", {
      id: "omni-text", name: "text", rows: "3",
      "aria-describedby": "omni-hint omni-error", autocomplete: "off"
    });
    var textField = field("omni-text", T.message, ui.text);
    textField.appendChild(el("p", { id: "omni-hint", "class": "omni-hint" }, T.hint));
    ui.error = el("p", { id: "omni-error", "class": "omni-error", role: "alert" });
    textField.appendChild(ui.error);
    ui.form.appendChild(textField);

    var files = el("div", { "class": "omni-attach" });
    // The file input itself stays out of sight and out of the tab order: the button opens it.
    ui.fileInput = el("input", { id: "omni-files", type: "file", multiple: "", hidden: "", tabindex: "-1" });
    ui.attach = el("button", { type: "button", "class": "omni-button omni-button--secondary" }, T.attach);
    files.appendChild(ui.fileInput);
    files.appendChild(ui.attach);
    files.appendChild(el("span", { "class": "omni-hint" }, T.dropHint));
    ui.form.appendChild(files);
    ui.drafts = el("ul", { id: "omni-drafts", "class": "omni-files", "aria-label": T.drafts });
    ui.form.appendChild(ui.drafts);

    ui.send = el("button", { type: "submit", "class": "omni-button" }, T.send);
    ui.form.appendChild(ui.send);
    root.appendChild(ui.form);
    return ui;
  }

  function formatSize(bytes) {
    if (!isFinite(bytes) || bytes < 0) {
      return "?";
    }
    if (bytes < 1024 * 1024) {
      return Math.max(1, Math.round(bytes / 1024)) + T.kb;
    }
    var mb = (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "");
    return (LANG === "ru" ? mb.replace(".", ",") : mb) + T.mb;
  }

  function timeNode(date) {
    var t = el("time", { datetime: date.toISOString() });
    t.textContent = date.toLocaleString(LANG === "ru" ? "ru-RU" : "en-GB", {
      day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"
    });
    return t;
  }

  function bubble(kind, author, at) {
    var li = el("li", { "class": "omni-msg omni-msg--" + kind });
    var head = el("p", { "class": "omni-msg-meta" });
    head.appendChild(el("span", { "class": "omni-msg-author" }, author));
    var when = at ? new Date(at) : new Date();
    if (!isNaN(when.getTime())) {
      head.appendChild(document.createTextNode(" "));
      head.appendChild(timeNode(when));
    }
    li.appendChild(head);
    return li;
  }

  // ---- files: the browser's check against /chat/config, then the upload ----

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  }

  // Why `file` cannot join `others` under `limits`, or null.
  function refusal(file, others, limits) {
    if (!limits) {
      return null; // the server checks anyway
    }
    if (others.length >= limits.count) {
      return fill(T.tooMany, { n: limits.count });
    }
    if (file.size > limits.file) {
      return fill(T.tooBig, { name: file.name, size: formatSize(limits.file) });
    }
    var total = others.reduce(function (sum, f) { return sum + f.file.size; }, file.size);
    if (total > limits.message) {
      return fill(T.tooBigTotal, { name: file.name, size: formatSize(limits.message) });
    }
    var ext = extensionOf(file.name);
    var allowed = limits.types.some(function (type) {
      return type === ext || (EXTENSIONS[type] || []).indexOf(ext) >= 0;
    });
    if (!allowed) {
      return fill(T.badType, { name: file.name, types: limits.types.join(", ").toUpperCase() });
    }
    return null;
  }

  // A file's states and the steps each may take: "waiting" (no session yet, or the connection
  // is gone) -> "uploading" (again after a 429 or a lost connection) -> a verdict, which is final.
  var FILE_STEPS = {
    waiting: ["uploading"],
    uploading: ["uploading", "waiting", "clean", "pending", "refused", "failed"],
    clean: [],
    pending: [],
    refused: [],
    failed: []
  };

  function Attachment(file) {
    this.file = file;
    this.state = "waiting";
    this.uploadId = null;
    this.li = el("li", { "class": "omni-file-item", "data-state": "waiting" });
    this.li.appendChild(el("span", { "class": "omni-file-name" }, file.name + " (" + formatSize(file.size) + ")"));
    this.progress = el("progress", { max: "100", value: "0", "aria-label": file.name });
    this.li.appendChild(this.progress);
    this.note = el("span", { "class": "omni-file-state" }, T.uploading);
    this.li.appendChild(this.note);
  }

  Attachment.prototype.settle = function (state, text) {
    if (FILE_STEPS[this.state].indexOf(state) < 0) {
      throw new Error("omniChat: a file cannot go from " + this.state + " to " + state);
    }
    this.state = state;
    this.li.setAttribute("data-state", state);
    this.note.textContent = text;
    if (state !== "uploading" && state !== "waiting") {
      this.progress.value = 100;
    }
  };

  Attachment.prototype.done = function () {
    return this.state !== "waiting" && this.state !== "uploading";
  };

  // What a scan verdict tells the citizen (docs/api.md, Uploads), and the state it leaves.
  function verdict(scan) {
    var detail = scan && scan.detail ? String(scan.detail) : "";
    switch (scan && scan.status) {
      case "clean":
        return ["clean", T.clean];
      case "pending":
        return ["pending", T.pending];
      case "infected":
        return ["refused", fill(T.infected, { detail: detail })];
      case "rejected":
        return ["refused", fill(T.rejected, { detail: detail })];
      default:
        return ["refused", fill(T.scanError, { detail: detail || "?" })];
    }
  }

  // ---- the chat ----

  function Chat(ui, identity) {
    this.ui = ui;
    this.ws = null;
    this.ready = false; // welcome received on the current socket
    this.refused = false; // identity_invalid: wait for identify()
    this.attempt = 0;
    this.reconnectTimer = null;
    this.identity = identity;
    this.user = userOf(identity);
    this.session = storedSession(this.user);
    this.lastSeq = 0; // a page shows the whole history: resume after 0
    this.seenSeq = {};
    this.config = null;
    this.drafts = []; // Attachments for the next message
    this.waiting = []; // messages whose files are still uploading
    this.pending = []; // [{client_id, text, topic, attachments}] in send order, not yet accepted
    this.bubbles = {}; // client_id -> <li>
    this.accepted = {}; // client_id -> true
    this.resends = {}; // client_id -> timer of a re-send on the open socket
    this.unavailable = {}; // client_id -> how many times the store could not take it
    this.ticket = null;
    this.contactPending = false;

    this.restorePending();
  }

  // The unsent messages this user wrote, back from the tab's storage: only theirs, as another
  // user's unsent text must not go out under this identity. One without a user is from an
  // older widget: whose it is cannot be told, and it is dropped.
  Chat.prototype.restorePending = function () {
    var self = this;
    loadPending().forEach(function (m) {
      if (m && typeof m.client_id === "string" && typeof m.text === "string" && m.user === self.user) {
        var restored = {
          client_id: m.client_id, text: m.text, topic: m.topic || null,
          attachments: Array.isArray(m.attachments) ? m.attachments : [], user: self.user
        };
        self.pending.push(restored);
        self.renderOwn(restored, []);
      }
    });
    this.savePending();
  };

  Chat.prototype.setStatus = function (state) {
    if (this.ui.status.getAttribute("data-state") === state) {
      return; // role="status" announces every change: do not repeat the same text
    }
    this.ui.status.setAttribute("data-state", state);
    this.ui.status.textContent = T[state];
  };

  Chat.prototype.showTicket = function (number) {
    if (number === null || number === undefined || number === "") {
      return;
    }
    this.ticket = String(number);
    this.ui.ticket.textContent = T.ticketBanner + number;
    this.ui.ticket.hidden = false;
    this.ui.topicField.hidden = true; // the topic is chosen before the first message only
  };

  Chat.prototype.showError = function (text) {
    this.ui.error.textContent = text || "";
  };

  Chat.prototype.loadConfig = function () {
    var self = this;
    fetch(near("config") + "?lang=" + LANG, { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (config) {
        self.config = config;
        (config.topics || []).forEach(function (t) {
          self.ui.topic.appendChild(el("option", { value: t.code }, t.code + " — " + t.name));
        });
      })
      .catch(function (error) {
        // Without topics the router classifies the text; without limits the server checks files.
        console.warn("omniChat: /chat/config unavailable: " + error.message);
      });
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
      if (self.ws === ws) {
        self.sendFrame({ type: "hello", session: self.session || null, identity: self.identity, lang: LANG });
      }
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

  Chat.prototype.scheduleReconnect = function (delay) {
    if (this.reconnectTimer !== null || this.refused) {
      return;
    }
    if (delay === undefined) {
      var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, this.attempt));
      // "Equal jitter": between half and all of the ceiling, never an instant retry loop.
      delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.attempt += 1;
    }
    var self = this;
    this.reconnectTimer = setTimeout(function () {
      self.reconnectTimer = null;
      self.connect();
    }, delay);
  };

  // Close the socket (if any) without the reconnect its "close" would schedule.
  Chat.prototype.hangUp = function () {
    var ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.close();
    }
  };

  Chat.prototype.reconnectNow = function () {
    this.hangUp();
    this.connect();
  };

  Chat.prototype.identify = function (identity) {
    var before = this.user;
    this.identity = identity || null;
    this.user = userOf(this.identity);
    if (this.user !== before || (this.session && storedSession(this.user) !== this.session)) {
      // The portal's user changed (a logout, another login): never the last one's chat, nor
      // what they wrote and was not sent yet (even before any session was opened). A portal
      // that signs its user in with identify() after the page loads finds theirs again.
      this.forgetSession(before);
      this.restorePending();
    }
    this.refused = false;
    this.attempt = 0;
    this.reconnectNow();
  };

  // Another person at this browser: the stored session and the history shown are not theirs.
  Chat.prototype.forgetSession = function (left) {
    this.session = null;
    keepSession(null, "");
    this.lastSeq = 0;
    this.seenSeq = {};
    this.bubbles = {};
    this.accepted = {};
    this.pending = [];
    storePending(loadPending().filter(function (m) {
      return m && m.user && m.user !== left; // the unsent text of whoever left goes with them
    }));
    Object.keys(this.resends).forEach(function (id) {
      clearTimeout(this.resends[id]);
    }, this);
    this.resends = {};
    this.unavailable = {};
    // Files being uploaded or waiting for a session stay out of the next one.
    var files = this.drafts;
    this.waiting.forEach(function (w) {
      files = files.concat(w.files);
    });
    files.forEach(function (a) {
      a.forgotten = true;
    });
    this.drafts = [];
    this.waiting = [];
    while (this.ui.drafts.firstChild) {
      this.ui.drafts.removeChild(this.ui.drafts.firstChild);
    }
    var shown = this.ui.list.querySelectorAll("[data-seq], .omni-msg--own");
    for (var i = 0; i < shown.length; i++) {
      shown[i].remove();
    }
    this.showTickets([]);
    this.ticket = null;
    this.ui.ticket.hidden = true;
  };

  Chat.prototype.sendFrame = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  };

  // Send a pending message again after `delay` ms on the socket then open (a reconnect's
  // welcome sends it anyway); not once it is accepted, or forgotten with its user's session.
  Chat.prototype.resendLater = function (m, delay) {
    var self = this;
    clearTimeout(this.resends[m.client_id]);
    this.resends[m.client_id] = setTimeout(function () {
      delete self.resends[m.client_id];
      if (self.pending.indexOf(m) >= 0) {
        self.sendMessage(m);
      }
    }, delay);
  };

  Chat.prototype.sendMessage = function (m) {
    return this.ready && this.sendFrame({
      type: "message", client_id: m.client_id, text: m.text, topic: m.topic, attachments: m.attachments
    });
  };

  // This user's unsent messages, beside those stored for other signed-in users of the tab
  // (kept while the page shows someone else: an anonymous start before identify()).
  Chat.prototype.savePending = function () {
    var user = this.user;
    storePending(loadPending().filter(function (m) {
      return m && m.user && m.user !== user;
    }).concat(this.pending));
  };

  Chat.prototype.submit = function (text, topic) {
    if (!text.trim() && !this.drafts.length) {
      this.showError(T.emptyText);
      return false;
    }
    this.showError("");
    this.ui.contact.hidden = true; // writing again brings the dialogue back
    if (this.ui.status.getAttribute("data-state") === "offline") {
      this.setStatus("open");
    }
    var m = { client_id: newClientId(), text: text, topic: topic || null, files: this.drafts };
    this.drafts = [];
    this.renderOwn(m, m.files);
    this.waiting.push(m);
    this.release();
    return true;
  };

  // Messages whose files have all settled go to the pending queue (and out), in order.
  Chat.prototype.release = function () {
    while (this.waiting.length && this.waiting[0].files.every(function (a) { return a.done(); })) {
      var w = this.waiting.shift();
      var ids = w.files.filter(function (a) {
        return a.state === "clean" || a.state === "pending";
      }).map(function (a) { return a.uploadId; });
      if (!w.text.trim() && !ids.length) {
        this.markFailed(w.client_id, T.noFileAccepted);
        continue;
      }
      var m = { client_id: w.client_id, text: w.text, topic: w.topic, attachments: ids, user: this.user };
      this.pending.push(m);
      this.savePending();
      this.setState(m.client_id, "sending", T.sending);
      this.sendMessage(m); // else: sent after the next welcome
    }
  };

  Chat.prototype.addFiles = function (files) {
    var limits = this.config && this.config.limits;
    var problems = [];
    for (var i = 0; i < files.length; i++) {
      // Refused files do not go with the message: they take no room in it.
      var going = this.drafts.filter(function (a) { return a.state !== "refused" && a.state !== "failed"; });
      var why = refusal(files[i], going, limits);
      if (why) {
        problems.push(why);
        continue;
      }
      var a = new Attachment(files[i]);
      this.drafts.push(a);
      this.ui.drafts.appendChild(a.li);
      this.upload(a);
    }
    this.showError(problems.join(" "));
  };

  Chat.prototype.upload = function (a) {
    if (!this.ready || a.forgotten) {
      return; // uploaded after the next welcome: a file belongs to a session
    }
    var self = this;
    var xhr = new XMLHttpRequest();
    var body = new FormData();
    body.append("file", a.file, a.file.name);
    a.settle("uploading", T.uploading);
    xhr.open("POST", near("upload"));
    xhr.setRequestHeader("X-Chat-Session", this.session);
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        a.progress.value = Math.floor((event.loaded / event.total) * 99); // 100: the verdict
      }
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (e) { /* shown by status below */ }
      if (xhr.status === 201) {
        a.uploadId = answer.upload_id;
        var v = verdict(answer.scan);
        a.settle(v[0], v[1]);
      } else if (xhr.status === 429) {
        var wait = Number(xhr.getResponseHeader("Retry-After")) || 1;
        a.settle("uploading", fill(T.rateLimited, { n: wait }));
        setTimeout(function () { self.upload(a); }, wait * 1000);
        return;
      } else {
        var detail = T.errors[answer.error] || answer.message || "HTTP " + xhr.status;
        a.settle("failed", fill(T.uploadFailed, { detail: detail }));
      }
      self.release();
    });
    xhr.addEventListener("error", function () {
      a.settle("waiting", T.uploadRetry); // the next welcome uploads it again
    });
    xhr.send(body);
  };

  Chat.prototype.onFrame = function (data) {
    var frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      return;
    }
    var handler = frame && typeof frame === "object" && FRAMES[frame.type];
    if (handler) {
      handler.call(this, frame);
    } // fields and frame types may be added by newer servers
  };

  Chat.prototype.onWelcome = function (frame) {
    if (typeof frame.session === "string" && frame.session) {
      if (this.session && frame.session !== this.session) {
        // Another session (another portal user): its history, not the previous one's.
        this.lastSeq = 0;
        this.seenSeq = {};
        var history = this.ui.list.querySelectorAll("[data-seq]");
        for (var i = 0; i < history.length; i++) {
          history[i].remove();
        }
      }
      this.session = frame.session;
      keepSession(frame.session, frame.verified ? this.user : "");
    }
    // The session now remembers who the portal vouched for: a reconnect after the identity
    // has aged past identity_max_age resumes with the token alone.
    if (frame.verified) {
      this.identity = null;
    }
    this.ui.verified.hidden = !frame.verified;
    this.showTickets(Array.isArray(frame.tickets) ? frame.tickets : []);
    this.showTicket(frame.ticket);
    this.ready = true;
    this.attempt = 0; // reset only now: a server that accepts and drops must still back off
    this.setStatus("open");
    this.sendFrame({ type: "resume", after_seq: this.lastSeq });
    var self = this;
    this.pending.forEach(function (m) {
      self.sendMessage(m); // same client_id: the server dedupes
    });
    var files = this.drafts;
    this.waiting.forEach(function (w) {
      files = files.concat(w.files);
    });
    files.forEach(function (a) {
      if (a.state === "waiting") {
        self.upload(a);
      }
    });
  };

  Chat.prototype.showTickets = function (tickets) {
    this.tickets = tickets;
    var list = this.ui.tickets;
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    tickets.forEach(function (t) {
      var parts = ["№ " + t.number, T.statuses[t.status] || String(t.status)];
      if (t.category && t.category.name) {
        parts.push(t.category.name);
      }
      list.appendChild(el("li", { "data-ticket": String(t.number), "data-status": String(t.status) },
        parts.join(" · ")));
    });
    this.ui.ticketsBox.hidden = tickets.length === 0;
  };

  Chat.prototype.setState = function (clientId, state, text) {
    var li = this.bubbles[clientId];
    if (li) {
      li.setAttribute("data-state", state);
      li.querySelector(".omni-msg-state").textContent = text;
    }
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
    clearTimeout(this.resends[id]);
    delete this.resends[id];
    delete this.unavailable[id];
    if (this.accepted[id]) {
      return; // answer to a re-send of a message already shown as accepted
    }
    this.accepted[id] = true;
    this.showError("");
    var ticket = frame.ticket && typeof frame.ticket === "object" ? frame.ticket : {};
    var parts = [T.accepted];
    if (ticket.number !== undefined && ticket.number !== null) {
      parts.push((ticket.is_new ? T.newTicket : T.ticketRef) + ticket.number);
      if (this.bubbles[id]) {
        this.bubbles[id].setAttribute("data-ticket", String(ticket.number));
      }
    }
    if (ticket.category && (ticket.category.name || ticket.category.code)) {
      parts.push(this.topicName(ticket.category));
    }
    this.setState(id, "accepted", parts.join(" · "));
    this.showTicket(ticket.number);
  };

  // A category named in the chat's language: `accepted` names it in Russian whatever the session's.
  Chat.prototype.topicName = function (category) {
    var topics = (this.config && this.config.topics) || [];
    for (var i = 0; i < topics.length; i++) {
      if (topics[i].code === category.code) {
        return topics[i].name;
      }
    }
    return String(category.name || category.code);
  };

  Chat.prototype.onNotice = function (frame) {
    var seq = Number(frame.seq);
    if (!isFinite(seq) || seq <= 0 || this.seenSeq[seq]) {
      return;
    }
    this.seenSeq[seq] = true;
    this.lastSeq = Math.max(this.lastSeq, seq);
    if (frame.kind === "citizen") {
      this.onWritten(frame, seq);
      return;
    }
    if (frame.status && frame.ticket !== undefined && frame.ticket !== null) {
      this.updateTicket(String(frame.ticket), String(frame.status));
    }
    var li = bubble("notice", T.centre + (T.kinds[frame.kind] ? " — " + T.kinds[frame.kind] : ""), frame.at);
    li.setAttribute("data-seq", String(seq));
    li.setAttribute("data-state", "accepted"); // a notice exists only once the server has stored it
    li.setAttribute("data-kind", String(frame.kind || "system"));
    li.appendChild(el("p", { "class": "omni-msg-text" }, frame.text || ""));
    if (Array.isArray(frame.attachments) && frame.attachments.length) {
      var files = el("ul", { "class": "omni-msg-files", "aria-label": T.files });
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
    this.placeBySeq(li, seq);
  };

  // Replayed history and live entries alike go in seq order.
  Chat.prototype.placeBySeq = function (li, seq) {
    li.setAttribute("data-seq", String(seq));
    var later = null;
    var shown = this.ui.list.querySelectorAll("[data-seq]");
    for (var i = 0; i < shown.length && !later; i++) {
      if (shown[i] !== li && Number(shown[i].getAttribute("data-seq")) > seq) {
        later = shown[i];
      }
    }
    this.ui.list.insertBefore(li, later);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  };

  // A message the citizen wrote, as the history keeps it: this tab's own bubble, or one
  // written before a reload, on another tab or on another device.
  Chat.prototype.onWritten = function (frame, seq) {
    var id = String(frame.client_id || "");
    var li = this.bubbles[id];
    if (li) {
      li.setAttribute("data-seq", String(seq)); // shown where it was written
      return;
    }
    li = bubble("own", T.you, frame.at);
    li.setAttribute("data-client-id", id);
    li.setAttribute("data-state", "accepted");
    li.appendChild(el("p", { "class": "omni-msg-text" }, String(frame.text || "")));
    li.appendChild(el("p", { "class": "omni-msg-state" }, T.accepted));
    this.bubbles[id] = li;
    this.accepted[id] = true;
    this.placeBySeq(li, seq);
  };

  // A status notice names the ticket's new status: the list of requests follows it.
  Chat.prototype.updateTicket = function (number, status) {
    var tickets = this.tickets || [];
    var known = tickets.filter(function (t) {
      return String(t.number) === number;
    });
    if (known.length) {
      known[0].status = status;
    } else {
      tickets.unshift({ number: number, status: status, category: null });
    }
    this.showTickets(tickets);
  };

  Chat.prototype.onOffline = function (frame) {
    this.setStatus("offline");
    this.system(String(frame.text || ""), "offline");
    this.ui.contactError.textContent = "";
    this.ui.contact.hidden = false;
  };

  Chat.prototype.onContactSaved = function () {
    this.contactPending = false;
    this.ui.contact.hidden = true;
    this.system(T.contactSaved, "contact");
  };

  // A line from the widget itself in the log (announced like a notice, numbered by nobody).
  Chat.prototype.system = function (text, kind) {
    var li = bubble("system", T.centre);
    li.setAttribute("data-kind", kind);
    li.appendChild(el("p", { "class": "omni-msg-text" }, text));
    this.ui.list.appendChild(li);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  };

  Chat.prototype.saveContact = function () {
    var email = this.ui.email.value.trim();
    var phone = this.ui.phone.value.trim();
    var problem = null;
    if (!email && !phone) {
      problem = T.errors.contact_empty;
    } else if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      problem = T.errors.email_invalid;
    } else if (phone && !/^\+?[\d\s()\u2011-]{10,20}$/.test(phone)) {
      problem = T.errors.phone_invalid;
    }
    this.ui.contactError.textContent = problem || "";
    if (problem) {
      return;
    }
    this.contactPending = true;
    this.sendFrame({ type: "contact", email: email || null, phone: phone || null });
  };

  // A download of a file from the centre: the session token goes in a header (never in a URL,
  // where it would end up in histories and logs), so it is fetched and handed over as a blob.
  Chat.prototype.download = function (file, button) {
    var self = this;
    button.disabled = true;
    fetch(near(String(file.url)), { headers: { "X-Chat-Session": this.session || "" }, credentials: "omit" })
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
      .catch(function () {
        self.showError(T.downloadFailed);
      })
      .then(function () {
        button.disabled = false;
      });
  };

  Chat.prototype.onError = function (frame) {
    var code = String(frame.code || "");
    var text = T.errors[code] || (frame.message ? String(frame.message) : code);
    var id = frame.client_id;
    var self = this;
    if (code === "identity_invalid") {
      this.refused = true; // no session: not as someone else, not anonymously either
      this.hangUp();
      this.setStatus("refused");
      this.showError(text);
      return;
    }
    if (code === "rate_limited") {
      var wait = Math.max(1, Number(frame.retry_after) || 1);
      if (!this.ready) {
        this.hangUp(); // a hello without a session: say hello again after the wait
        this.setStatus("closed");
        this.scheduleReconnect(wait * 1000);
        return;
      }
      var m = this.pending.filter(function (p) { return p.client_id === id; })[0];
      if (m) {
        this.setState(id, "sending", fill(T.rateLimited, { n: wait }));
        this.resendLater(m, wait * 1000);
      } else if (this.contactPending) {
        this.ui.contactError.textContent = fill(T.rateLimited, { n: wait });
        setTimeout(function () { self.saveContact(); }, wait * 1000);
      }
      return;
    }
    var refused = this.pending.filter(function (p) { return p.client_id === id; })[0];
    if (code === "unavailable" && refused) {
      // Not stored (docs/api.md: send the same client_id again later): it stays pending and
      // goes again on this socket after a growing wait, as after the next welcome.
      var tries = (this.unavailable[id] || 0) + 1;
      this.unavailable[id] = tries;
      var ceiling = Math.min(BACKOFF_MAX_MS, UNAVAILABLE_FIRST_MS * Math.pow(2, tries - 1));
      var delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.setState(id, "sending", fill(T.unavailableRetry, { n: Math.ceil(delay / 1000) }));
      this.resendLater(refused, delay);
      return;
    }
    if (this.contactPending && /^(email_invalid|phone_invalid|contact_empty|unavailable)$/.test(code)) {
      this.contactPending = false;
      this.ui.contactError.textContent = text;
      return;
    }
    this.showError(text);
    if (typeof id === "string" && this.bubbles[id] && !this.accepted[id] && code !== "unavailable") {
      // The server refused this message: stop re-sending it ("unavailable": send it again later).
      this.pending = this.pending.filter(function (p) {
        return p.client_id !== id;
      });
      this.savePending();
      this.markFailed(id, text);
    }
  };

  Chat.prototype.markFailed = function (clientId, text) {
    this.setState(clientId, "failed", T.notSent + text);
  };

  Chat.prototype.renderOwn = function (m, files) {
    var li = bubble("own", T.you);
    li.setAttribute("data-client-id", m.client_id);
    li.appendChild(el("p", { "class": "omni-msg-text" }, m.text));
    if (files.length) {
      var list = el("ul", { "class": "omni-files", "aria-label": T.files });
      files.forEach(function (a) {
        list.appendChild(a.li);
      });
      li.appendChild(list);
    }
    li.appendChild(el("p", { "class": "omni-msg-state" }));
    this.bubbles[m.client_id] = li;
    this.ui.list.appendChild(li);
    this.setState(m.client_id, "sending", files.length ? T.waitingFiles : T.sending);
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  };

  var FRAMES = {
    welcome: Chat.prototype.onWelcome,
    accepted: Chat.prototype.onAccepted,
    notice: Chat.prototype.onNotice,
    error: Chat.prototype.onError,
    offline: Chat.prototype.onOffline,
    contact_saved: Chat.prototype.onContactSaved
  };

  // ---- start ----

  var identity = readIdentity();
  var chat = null;

  function start() {
    injectStylesheet();
    var ui = buildUi(findOrCreateContainer());
    chat = new Chat(ui, identity);

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
        ui.form.requestSubmit();
      }
    });

    ui.contact.addEventListener("submit", function (event) {
      event.preventDefault();
      chat.saveContact();
    });

    ui.attach.addEventListener("click", function () {
      ui.fileInput.click();
    });
    ui.fileInput.addEventListener("change", function () {
      chat.addFiles(ui.fileInput.files);
      ui.fileInput.value = ""; // the same file may be chosen again
    });
    ui.form.addEventListener("dragover", function (event) {
      event.preventDefault();
      ui.form.classList.add("omni-drop");
    });
    ui.form.addEventListener("dragleave", function () {
      ui.form.classList.remove("omni-drop");
    });
    ui.form.addEventListener("drop", function (event) {
      event.preventDefault();
      ui.form.classList.remove("omni-drop");
      chat.addFiles(event.dataTransfer.files);
    });

    // Back online: do not wait out the backoff.
    window.addEventListener("online", function () {
      if (chat.ws === null && !chat.refused) {
        chat.reconnectNow();
      }
    });

    chat.loadConfig();
    chat.connect();
  }

  window.omniChat = {
    // The portal's signed identity of its logged-in user (docs/api.md): the chat reconnects as them.
    identify: function (signed) {
      identity = signed;
      if (chat) {
        chat.identify(signed);
      }
    }
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
