/*
 * Spine procedure assistant: website chat widget.
 *
 * Embed with a config object and one script tag:
 *
 *   <script>
 *     window.SpineAssistantConfig = {
 *       serverUrl: "http://localhost:5005",
 *       title: "Ask about your spine procedure",
 *       colors: {primary: "#0b5394"}
 *     };
 *   </script>
 *   <script src="/path/to/widget.js"></script>
 *
 * widget.js loads socket.io.min.js and widget.css from its own folder. It talks
 * to the server's socket.io channel (channels/widget.py). Message content is only
 * ever rendered as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  if (window.SpineAssistant) {
    return; // embedded twice: keep the first one
  }

  // ---------------------------------------------------------------- config

  var thisScript =
    document.currentScript ||
    (function () {
      var scripts = document.getElementsByTagName("script");
      for (var i = scripts.length - 1; i >= 0; i--) {
        if (/widget\.js(\?|#|$)/.test(scripts[i].src)) {
          return scripts[i];
        }
      }
      return null;
    })();
  var BASE_URL = thisScript && thisScript.src ? thisScript.src.replace(/[^/]*([?#].*)?$/, "") : "";

  var config = window.SpineAssistantConfig || {};
  var SERVER_URL = typeof config.serverUrl === "string" && config.serverUrl ? config.serverUrl : "http://localhost:5005";
  var TITLE = typeof config.title === "string" && config.title ? config.title : "Ask about your spine procedure";
  var SUBTITLE =
    typeof config.subtitle === "string" ? config.subtitle : "General information, not medical advice";
  var FOOTNOTE =
    typeof config.footnote === "string"
      ? config.footnote
      : "Not for emergencies. In an emergency, call your local emergency number.";
  var STORAGE_PREFIX = typeof config.storageKey === "string" && config.storageKey ? config.storageKey : "spineAssistant";
  var COLOR_VARS = {
    primary: "--sa-primary",
    primaryDark: "--sa-primary-dark",
    primaryText: "--sa-on-primary",
    text: "--sa-text",
    background: "--sa-surface"
  };
  var TYPING_TIMEOUT_MS = 8000;
  var MAX_ENTRIES = 300;
  var MAX_MESSAGE_CHARS = 1000;
  var OFFLINE_TEXT = "Can't reach the assistant right now. Retrying...";
  var URGENCY_LABELS = {
    emergency: "Emergency",
    urgent: "Contact your doctor today"
  };

  // ---------------------------------------------------------------- storage

  var memoryStore = {};
  var store = {
    get: function (key) {
      try {
        return window.localStorage.getItem(STORAGE_PREFIX + "." + key);
      } catch (e) {
        return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(STORAGE_PREFIX + "." + key, value);
      } catch (e) {
        memoryStore[key] = value;
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(STORAGE_PREFIX + "." + key);
      } catch (e) {
        delete memoryStore[key];
      }
    }
  };

  function loadEntries() {
    try {
      var parsed = JSON.parse(store.get("transcript") || "[]");
      return Array.isArray(parsed) ? parsed.filter(isValidEntry).map(normalizeEntry).slice(-MAX_ENTRIES) : [];
    } catch (e) {
      return [];
    }
  }

  function isValidEntry(entry) {
    return (
      entry &&
      typeof entry === "object" &&
      (entry.role === "user" || entry.role === "bot" || entry.role === "notice" || entry.role === "nurse") &&
      typeof entry.text === "string"
    );
  }

  function stringList(value) {
    return Array.isArray(value)
      ? value.filter(function (item) {
          return typeof item === "string";
        })
      : [];
  }

  /** A stored entry with only the fields rendering uses, of the right types. */
  function normalizeEntry(entry) {
    return {
      role: entry.role,
      text: entry.text,
      urgency: URGENCY_LABELS[entry.urgency] ? entry.urgency : undefined,
      sources: stringList(entry.sources),
      quickReplies: Array.isArray(entry.quickReplies)
        ? entry.quickReplies.filter(function (reply) {
            return reply && typeof reply.title === "string" && typeof reply.payload === "string";
          })
        : []
    };
  }

  function saveEntries() {
    store.set("transcript", JSON.stringify(entries));
  }

  // ---------------------------------------------------------------- state

  var entries = loadEntries(); // the transcript: {role, text, ...}; see addEntry
  var elements = []; // the DOM node of each entry, same index
  var sessionId = store.get("session");
  var socket = null;
  var sessionReady = false; // session_confirm received on the current connection
  var pending = []; // user messages waiting for a session
  var typingTimer = null;
  var isOpen = false;

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) {
          return;
        }
        if (name === "className") {
          node.className = value;
        } else if (name === "text") {
          node.textContent = value;
        } else {
          node.setAttribute(name, value === true ? "" : String(value));
        }
      });
    }
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";

  function icon(pathData, className) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "sa-icon" + (className ? " " + className : ""));
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8.8L4 21.6V18a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 2v10h2v1.6L8.1 16H20V6H4zm3 3h10v2H7V9zm0 3h7v2H7v-2z",
    close: "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z",
    info: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm-1 7h2v6h-2v-6zm0-4h2v2h-2V7z",
    warning: "M12 2 1 21h22L12 2zm0 4.2L19.5 19h-15L12 6.2zM11 10h2v5h-2v-5zm0 6h2v2h-2v-2z",
    phone: "M6.6 10.8a15.2 15.2 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1l-2.2 2.2z",
    restart: "M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z"
  };

  // Phone numbers in triage advice: "911", "555-0100", "(555) 010-0100", "+1 555 010 0100".
  var PHONE_PATTERN = /\+?\(?\d[\d().\- ]*\d/g;

  function appendWithPhoneLinks(parent, text) {
    var last = 0;
    var match;
    PHONE_PATTERN.lastIndex = 0;
    while ((match = PHONE_PATTERN.exec(text)) !== null) {
      var raw = match[0];
      var digits = raw.replace(/[^\d+]/g, "");
      if (digits.replace("+", "").length < 3) {
        continue;
      }
      if (match.index > last) {
        parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      parent.appendChild(
        el("a", { className: "sa-tel", href: "tel:" + digits }, [icon(ICONS.phone, "sa-icon--inline"), raw])
      );
      last = match.index + raw.length;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  // ---------------------------------------------------------------- build the widget

  var root = el("div", { className: "sa-root", "data-spine-assistant": "" });
  root.hidden = true; // until the stylesheet has loaded
  var colors = config.colors || {};
  Object.keys(COLOR_VARS).forEach(function (name) {
    var value = colors[name];
    if (typeof value === "string" && (!window.CSS || !CSS.supports || CSS.supports("color", value))) {
      root.style.setProperty(COLOR_VARS[name], value);
    }
  });

  var titleId = "sa-title-" + Math.random().toString(36).slice(2, 8);
  var inputId = titleId.replace("title", "input");

  var closeButton = el("button", { type: "button", className: "sa-icon-button sa-close", "aria-label": "Close chat" }, [
    icon(ICONS.close)
  ]);
  var restartButton = el(
    "button",
    { type: "button", className: "sa-text-button sa-restart", title: "Clear this conversation and start a new one" },
    [icon(ICONS.restart, "sa-icon--small"), "New chat"]
  );
  var header = el("div", { className: "sa-header" }, [
    el("div", { className: "sa-header-text" }, [
      el("h2", { className: "sa-title", id: titleId, text: TITLE }),
      SUBTITLE ? el("p", { className: "sa-subtitle", text: SUBTITLE }) : null
    ]),
    closeButton
  ]);

  var statusBar = el("div", { className: "sa-status", role: "status" });
  statusBar.hidden = true;

  var log = el("div", {
    className: "sa-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0"
  });

  var typing = el("div", { className: "sa-typing", role: "status" }, [
    el("span", { className: "sa-visually-hidden", text: "The assistant is typing" }),
    el("span", { className: "sa-dot", "aria-hidden": "true" }),
    el("span", { className: "sa-dot", "aria-hidden": "true" }),
    el("span", { className: "sa-dot", "aria-hidden": "true" })
  ]);
  typing.hidden = true;

  var input = el("input", {
    id: inputId,
    className: "sa-input",
    type: "text",
    autocomplete: "off",
    maxlength: String(MAX_MESSAGE_CHARS),
    placeholder: "Type your question...",
    enterkeyhint: "send"
  });
  var sendButton = el("button", { type: "submit", className: "sa-send", "aria-label": "Send" }, [icon(ICONS.send)]);
  var form = el("form", { className: "sa-form", novalidate: true }, [
    el("label", { className: "sa-visually-hidden", for: inputId, text: "Your question" }),
    input,
    sendButton
  ]);
  var footer = el("div", { className: "sa-footer" }, [
    el("p", { className: "sa-footnote", text: FOOTNOTE }),
    restartButton
  ]);

  var panel = el(
    "section",
    { className: "sa-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, id: titleId + "-panel" },
    [header, statusBar, log, typing, form, footer]
  );
  panel.hidden = true;

  var launcherLabel = el("span", { className: "sa-launcher-label", text: "Ask a question" });
  var launcher = el(
    "button",
    {
      type: "button",
      className: "sa-launcher",
      "aria-expanded": "false",
      "aria-controls": panel.id
    },
    [icon(ICONS.chat, "sa-launcher-open"), icon(ICONS.close, "sa-launcher-close"), launcherLabel]
  );

  root.appendChild(panel);
  root.appendChild(launcher);

  // ---------------------------------------------------------------- rendering

  function speakerLabel(entry) {
    var who = entry.role === "user" ? "You said: " : entry.role === "nurse" ? "The nurse said: " : "Assistant: ";
    return el("span", { className: "sa-visually-hidden", text: who });
  }

  function renderEntry(entry) {
    if (entry.role === "notice") {
      // The disclaimer sent at session start.
      return el("div", { className: "sa-notice", "data-disclaimer": "" }, [
        icon(ICONS.info, "sa-notice-icon"),
        el("p", { className: "sa-notice-text", text: entry.text })
      ]);
    }
    if (entry.role === "nurse") {
      // A nurse's reply from the nurse line (channels/nurse.py): labelled, so it is not taken for the assistant.
      return el("div", { className: "sa-row sa-row--bot" }, [
        el("div", { className: "sa-msg sa-msg--bot sa-msg--nurse", "data-from": "nurse" }, [
          speakerLabel(entry),
          el("p", { className: "sa-nurse-label", "aria-hidden": "true", text: "Nurse" }),
          el("p", { className: "sa-msg-text", text: entry.text })
        ])
      ]);
    }
    if (entry.role === "user") {
      return el("div", { className: "sa-row sa-row--user" }, [
        el("div", { className: "sa-msg sa-msg--user" }, [
          speakerLabel(entry),
          el("p", { className: "sa-msg-text", text: entry.text })
        ])
      ]);
    }

    var urgency = URGENCY_LABELS[entry.urgency] ? entry.urgency : null;
    var bubble = el("div", {
      className: "sa-msg sa-msg--bot" + (urgency ? " sa-msg--triage sa-msg--" + urgency : ""),
      "data-urgency": urgency,
      role: urgency ? "alert" : null
    });
    bubble.appendChild(speakerLabel(entry));
    if (urgency) {
      bubble.appendChild(
        el("p", { className: "sa-urgency-label" }, [icon(ICONS.warning, "sa-icon--inline"), URGENCY_LABELS[urgency]])
      );
      var body = el("p", { className: "sa-msg-text" });
      appendWithPhoneLinks(body, entry.text);
      bubble.appendChild(body);
    } else {
      bubble.appendChild(el("p", { className: "sa-msg-text", text: entry.text }));
    }
    var row = el("div", { className: "sa-row sa-row--bot" }, [bubble]);

    if (entry.sources && entry.sources.length) {
      var sources = el("p", { className: "sa-sources" }, [
        el("span", { className: "sa-sources-label", text: entry.sources.length > 1 ? "Sources: " : "Source: " }),
        entry.sources.join("; ")
      ]);
      row.appendChild(sources);
    }

    if (entry.quickReplies && entry.quickReplies.length) {
      var group = el("div", { className: "sa-quick-replies", role: "group", "aria-label": "Suggested questions" });
      entry.quickReplies.forEach(function (reply) {
        var button = el("button", { type: "button", className: "sa-quick-reply", text: reply.title });
        button.addEventListener("click", function () {
          sendMessage(reply.payload, reply.title);
        });
        group.appendChild(button);
      });
      row.appendChild(group);
    }
    return row;
  }

  /**
   * Show the newest content: the end of the log, or, when the current turn is taller
   * than the log, the start of the turn (the question, then the advice or answer).
   */
  function scrollToEnd() {
    var anchor = elements[turnStartIndex()];
    if (anchor && log.scrollHeight - anchor.offsetTop > log.clientHeight) {
      log.scrollTop = anchor.offsetTop - 8;
    } else {
      log.scrollTop = log.scrollHeight;
    }
  }

  function addEntry(entry) {
    entries.push(entry);
    var node = renderEntry(entry);
    elements.push(node);
    log.appendChild(node);
    if (entries.length > MAX_ENTRIES) {
      // Keep the stored transcript small: drop the oldest messages (the disclaimer stays).
      var keepFirst = entries[0].role === "notice" ? 1 : 0;
      var drop = entries.length - MAX_ENTRIES;
      entries.splice(keepFirst, drop);
      elements.splice(keepFirst, drop).forEach(function (old) {
        log.removeChild(old);
      });
    }
    saveEntries();
    scrollToEnd();
    return entry;
  }

  function updateEntry(index) {
    var fresh = renderEntry(entries[index]);
    log.replaceChild(fresh, elements[index]);
    elements[index] = fresh;
    saveEntries();
    scrollToEnd();
  }

  function renderAll() {
    elements = [];
    while (log.firstChild) {
      log.removeChild(log.firstChild);
    }
    entries.forEach(function (entry) {
      var node = renderEntry(entry);
      elements.push(node);
      log.appendChild(node);
    });
    scrollToEnd();
  }

  // ---------------------------------------------------------------- conversation logic

  function disclaimerShown() {
    return entries.some(function (entry) {
      return entry.role === "notice";
    });
  }

  /** Where the newest turn starts: the patient's last message, or a nurse's reply after it. */
  function turnStartIndex() {
    for (var i = entries.length - 1; i >= 0; i--) {
      if (entries[i].role === "user" || entries[i].role === "nurse") {
        return i;
      }
    }
    return -1;
  }

  function quickRepliesOf(data) {
    return (Array.isArray(data.quick_replies) ? data.quick_replies : [])
      .filter(function (reply) {
        return reply && typeof reply.title === "string" && typeof reply.payload === "string";
      })
      .map(function (reply) {
        return { title: reply.title, payload: reply.payload };
      });
  }

  /**
   * One part of the assistant's reply, shown by its role (channels/widget.py): the advice
   * marked by its urgency, the answer with its sources, the disclaimer once as a notice.
   * The role and its details come in the message's metadata, which other Rasa clients ignore.
   */
  function onBotUttered(data) {
    if (!data || typeof data !== "object" || typeof data.text !== "string" || !data.text.trim()) {
      return;
    }
    hideTyping();
    var text = data.text.trim();
    var part = data.metadata && typeof data.metadata === "object" ? data.metadata : {};
    if (part.role === "disclaimer") {
      if (!disclaimerShown()) {
        addEntry({ role: "notice", text: text });
      }
      return;
    }
    if (part.role === "nurse") {
      addEntry({ role: "nurse", text: text });
      return;
    }
    if (part.role === "advice") {
      addEntry({ role: "bot", text: text, urgency: URGENCY_LABELS[part.urgency] ? part.urgency : null });
      return;
    }
    if (part.role === "answer" && typeof part.body === "string") {
      var sources = (Array.isArray(part.sources) ? part.sources : []).filter(function (title) {
        return typeof title === "string";
      });
      addEntry({ role: "bot", text: part.body.trim(), sources: sources.length ? sources : undefined });
      return;
    }
    addEntry({ role: "bot", text: text, quickReplies: quickRepliesOf(data) });
  }

  function clearQuickReplies() {
    for (var i = 0; i < entries.length; i++) {
      if (entries[i].quickReplies && entries[i].quickReplies.length) {
        entries[i].quickReplies = [];
        updateEntry(i);
      }
    }
  }

  function sendMessage(message, shownText) {
    message = String(message || "").trim();
    if (!message) {
      return;
    }
    var quickReplyFocused = document.activeElement && document.activeElement.classList.contains("sa-quick-reply");
    clearQuickReplies();
    addEntry({ role: "user", text: (shownText || message).slice(0, MAX_MESSAGE_CHARS) });
    pending.push(message.slice(0, MAX_MESSAGE_CHARS));
    flushPending();
    if (quickReplyFocused) {
      input.focus(); // the button that had focus is gone
    }
  }

  function flushPending() {
    if (!socket || !socket.connected || !sessionReady || !sessionId) {
      connect();
      return;
    }
    if (pending.length) {
      showTyping();
    }
    while (pending.length) {
      socket.emit("user_uttered", { message: pending.shift(), session_id: sessionId });
    }
  }

  // ---------------------------------------------------------------- typing indicator and status

  function showTyping() {
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollToEnd();
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typing.hidden = true;
  }

  function showOffline() {
    statusBar.textContent = OFFLINE_TEXT;
    statusBar.hidden = false;
    hideTyping();
  }

  function hideOffline() {
    statusBar.hidden = true;
    statusBar.textContent = "";
  }

  // ---------------------------------------------------------------- connection

  var socketIoLoading = null;

  function loadSocketIo(callback) {
    if (typeof window.io === "function") {
      callback();
      return;
    }
    if (!socketIoLoading) {
      socketIoLoading = [];
      var script = document.createElement("script");
      script.src = BASE_URL + "socket.io.min.js";
      script.async = true;
      script.onload = function () {
        var waiting = socketIoLoading;
        socketIoLoading = null;
        waiting.forEach(function (fn) {
          fn();
        });
      };
      script.onerror = function () {
        socketIoLoading = null;
        showOffline();
      };
      document.head.appendChild(script);
    }
    socketIoLoading.push(callback);
  }

  function connect() {
    if (socket) {
      return;
    }
    loadSocketIo(function () {
      if (socket || typeof window.io !== "function") {
        return;
      }
      socket = window.io(SERVER_URL, {
        path: "/socket.io",
        transports: ["websocket", "polling"],
        reconnection: true,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 10000
      });
      socket.on("connect", function () {
        hideOffline();
        sessionReady = false;
        socket.emit("session_request", { session_id: sessionId || null });
      });
      socket.on("session_confirm", function (id) {
        var confirmed = typeof id === "string" ? id : id && id.session_id;
        if (typeof confirmed === "string" && confirmed) {
          sessionId = confirmed;
          store.set("session", sessionId);
          sessionReady = true;
          flushPending();
        }
      });
      socket.on("bot_uttered", onBotUttered);
      socket.on("connect_error", showOffline);
      socket.on("disconnect", function (reason) {
        sessionReady = false;
        showOffline();
        if (reason === "io server disconnect") {
          socket.connect(); // the server closed it: socket.io does not retry this one by itself
        }
      });
    });
  }

  // ---------------------------------------------------------------- open / close

  function setOpen(open, options) {
    isOpen = open;
    panel.hidden = !open;
    root.classList.toggle("sa-root--open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      launcher.setAttribute("aria-label", "Close chat");
    } else {
      launcher.removeAttribute("aria-label"); // named by its visible text
    }
    store.set("open", open ? "1" : "0");
    if (open) {
      connect();
      scrollToEnd();
      if (!(options && options.noFocus)) {
        input.focus();
      }
    } else if (!(options && options.noFocus)) {
      launcher.focus();
    }
  }

  function restart() {
    entries = [];
    pending = [];
    store.remove("transcript");
    store.remove("session");
    sessionId = null;
    sessionReady = false;
    renderAll();
    hideTyping();
    if (socket && socket.connected) {
      socket.emit("session_request", { session_id: null });
    } else {
      connect();
    }
    input.focus();
  }

  launcher.addEventListener("click", function () {
    setOpen(!isOpen);
  });
  closeButton.addEventListener("click", function () {
    setOpen(false);
  });
  restartButton.addEventListener("click", restart);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    sendMessage(text);
  });
  root.addEventListener("keydown", function (event) {
    if ((event.key === "Escape" || event.key === "Esc") && isOpen) {
      event.preventDefault();
      setOpen(false);
    }
  });

  // The same conversation open in another tab of the site: follow its changes.
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_PREFIX + ".transcript") {
      entries = loadEntries();
      renderAll();
    } else if (event.key === STORAGE_PREFIX + ".session" && event.newValue && event.newValue !== sessionId) {
      sessionId = event.newValue;
      if (socket && socket.connected) {
        sessionReady = false;
        socket.emit("session_request", { session_id: sessionId });
      }
    }
  });

  // ---------------------------------------------------------------- start

  function mount() {
    var stylesheet = document.createElement("link");
    stylesheet.rel = "stylesheet";
    stylesheet.href = BASE_URL + "widget.css";
    var shown = false;
    var show = function () {
      if (!shown) {
        shown = true;
        root.hidden = false;
        scrollToEnd();
      }
    };
    stylesheet.onload = show;
    stylesheet.onerror = show;
    setTimeout(show, 3000);
    document.head.appendChild(stylesheet);
    document.body.appendChild(root);
    renderAll();
    if (store.get("open") === "1") {
      setOpen(true, { noFocus: true });
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }

  window.SpineAssistant = {
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    restart: restart
  };
})();
