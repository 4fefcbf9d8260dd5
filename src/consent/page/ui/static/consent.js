/* asgi-consent: enhances the banner, the preferences dialog and the notice.
 *
 * Without this script every control is a plain form that works on its own. The script is ES5,
 * so that every browser the default policy supports (Internet Explorer 11 included) parses it,
 * and it checks for each thing it uses before using it: without fetch and Promise the forms
 * post as they do without JavaScript; without HTMLDialogElement "Customise settings" opens the
 * settings page; without the CustomEvent constructor the event is made the old way.
 *
 * Embeds of a service (<iframe data-consent-service="youtube" data-src="…">) load only once
 * their service is granted; until then a placeholder offers to load one once, or to allow the
 * service for good. The page's data block (#consent-embeds) names the services and the texts.
 */
(function () {
  "use strict";

  var banner = document.getElementById("consent-banner");
  var control = document.getElementById("consent-settings-control");
  var notice = document.getElementById("browser-notice");
  /* With the banner, the dialog and the control come as inert markup in data blocks. */
  var dialogMarkup = document.getElementById("consent-preferences-markup");
  var controlMarkup = document.getElementById("consent-settings-control-markup");
  var embedBlock = document.getElementById("consent-embeds");
  var embeds = null;
  var placeholders = 0;
  var dialog = null;
  var opener = null;
  var clickedButton = null;

  var canFetch = typeof window.fetch === "function" && typeof window.Promise === "function";
  var canDialog =
    typeof window.HTMLDialogElement === "function" &&
    typeof window.HTMLDialogElement.prototype.showModal === "function";

  function each(list, callback) {
    Array.prototype.forEach.call(list, callback);
  }

  function hide(element) {
    element.setAttribute("hidden", "");
  }

  function show(element) {
    element.removeAttribute("hidden");
  }

  /* The nearest element from node up that has the attribute (Element.closest is newer). */
  function nearestWith(node, attribute) {
    while (node && node !== document) {
      if (node.nodeType === 1 && node.getAttribute(attribute) !== null) return node;
      node = node.parentNode;
    }
    return null;
  }

  /* The choice in force, as the server rendered it (and as the last answer updated it). */
  function granted() {
    var holder = control || dialog;
    var value = holder ? holder.getAttribute("data-granted") || "" : "";
    return value.split(" ").filter(Boolean);
  }

  /* Whether a service, named alone ("matomo"), is among the granted "category.service" names. */
  function serviceAllowed(allowed, service) {
    for (var i = 0; i < allowed.length; i++) {
      var dot = allowed[i].indexOf(".");
      if (dot > 0 && allowed[i].slice(dot + 1) === service) return true;
    }
    return false;
  }

  /* Whether a script's category and service (each where it names one) are both granted. */
  function scriptAllowed(allowed, script) {
    var category = script.getAttribute("data-consent-category");
    var service = script.getAttribute("data-consent-service");
    if (category !== null && allowed.indexOf(category) === -1) return false;
    return service === null || serviceAllowed(allowed, service);
  }

  /* Scripts marked <script type="text/plain" data-consent-category="analytics"> (or
     data-consent-service="matomo") run once allowed. */
  function activateScripts() {
    var allowed = granted();
    var scripts = document.querySelectorAll(
      'script[type="text/plain"][data-consent-category], ' +
        'script[type="text/plain"][data-consent-service]'
    );
    each(scripts, function (script) {
      if (!scriptAllowed(allowed, script)) return;
      var live = document.createElement("script");
      each(script.attributes, function (attribute) {
        if (attribute.name !== "type") live.setAttribute(attribute.name, attribute.value);
      });
      var type = script.getAttribute("data-consent-type");
      if (type) live.setAttribute("type", type);
      live.text = script.text;
      script.parentNode.replaceChild(live, script);
    });
  }

  function announce(state) {
    var event;
    if (typeof window.CustomEvent === "function") {
      event = new window.CustomEvent("consent:change", { detail: state });
    } else if (document.createEvent) {
      event = document.createEvent("CustomEvent");
      event.initCustomEvent("consent:change", false, false, state);
    } else {
      return;
    }
    document.dispatchEvent(event);
  }

  /* The switches of the services inside categories, in a form or the dialog. */
  function serviceSwitches(root) {
    return root.querySelectorAll('input[type="checkbox"][data-consent-service-of]');
  }

  function categorySwitch(root, name) {
    var found = null;
    each(root.querySelectorAll('input[name="category"]'), function (box) {
      if (box.value === name) found = box;
    });
    return found;
  }

  /* A service's switch can be changed only while its category is on (a required category's
     services stay as the server drew them). */
  function syncServices(root) {
    each(serviceSwitches(root), function (box) {
      var category = categorySwitch(root, box.getAttribute("data-consent-service-of"));
      if (category && !category.disabled) box.disabled = !category.checked;
    });
  }

  /* The switches show the choice in force: closing the dialog without saving drops changes.
     A service of a category that is off shows on: turning the category on grants it. */
  function showGranted() {
    if (!dialog) return;
    var names = granted();
    each(dialog.querySelectorAll('input[name="category"]'), function (box) {
      if (!box.disabled) box.checked = names.indexOf(box.value) !== -1;
    });
    each(serviceSwitches(dialog), function (box) {
      var category = categorySwitch(dialog, box.getAttribute("data-consent-service-of"));
      if (category && !category.disabled) {
        box.checked = names.indexOf(box.name) !== -1 || !category.checked;
      }
    });
    syncServices(dialog);
  }

  function applyState(state) {
    var services = state.services || {};
    var names = Object.keys(state.categories).filter(function (name) {
      return state.categories[name];
    }).concat(Object.keys(services).filter(function (name) {
      return services[name];
    }));
    each([control, dialog], function (holder) {
      if (!holder) return;
      holder.setAttribute("data-granted", names.join(" "));
      holder.setAttribute("data-decided", state.decided ? "true" : "false");
    });
    showGranted();
    if (state.decided) {
      if (banner) hide(banner);
      if (control) show(control);
    }
    activateScripts();
    activateEmbeds();
    announce(state);
  }

  /* The element with this id in some markup (a data block's text, or a fetched fragment). */
  function elementFrom(html, id) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    return holder.querySelector("#" + id);
  }

  /* The element a data block holds, put in the block's place. */
  function unpack(markup, id) {
    var element = elementFrom(markup.text, id);
    if (element) markup.parentNode.insertBefore(element, markup);
    return element;
  }

  function adoptDialog(element) {
    dialog = element;
    bindForms(dialog);
    syncServices(dialog);
    each(dialog.querySelectorAll("[data-consent-close]"), function (button) {
      button.addEventListener("click", closeDialog);
    });
    dialog.addEventListener("close", onDialogClose);
  }

  function showDialog() {
    dialog.showModal();
    /* The first switch the visitor can change (not the hidden "next" field), else a button. */
    var first = dialog.querySelector('input:not([type="hidden"]):not([disabled]), button');
    if (first) first.focus();
  }

  function controlForm() {
    return control ? control.querySelector("form") : null;
  }

  /* A decided visitor's page has no dialog: fetch it, in the page's language, when asked for. */
  function fetchDialog() {
    var url = controlForm().getAttribute("action") + "?fragment=dialog&next=" +
      encodeURIComponent(location.pathname + location.search);
    return window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("consent: HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var element = elementFrom(html, "consent-preferences");
        if (!element) throw new Error("consent: no dialog in the answer");
        control.parentNode.insertBefore(element, control);
        adoptDialog(element);
      });
  }

  /* Where the dialog cannot open: the settings page, as without JavaScript. */
  function openSettingsPage(trigger) {
    if (trigger.form && trigger.type === "submit") {
      trigger.form.submit();
    } else if (trigger.href) {
      location.href = trigger.href;
    } else if (controlForm()) {
      location.href = controlForm().getAttribute("action") + "?next=" +
        encodeURIComponent(location.pathname + location.search);
    }
  }

  function openDialog(event, trigger) {
    var canFetchDialog = canFetch && controlForm() !== null;
    if (!canDialog || (!dialog && !canFetchDialog)) {
      /* A link or a form's button gets there by itself; any other element is sent there. */
      if (!trigger.href && !(trigger.form && trigger.type === "submit")) {
        event.preventDefault();
        openSettingsPage(trigger);
      }
      return;
    }
    event.preventDefault();
    opener = trigger;
    if (dialog) {
      showDialog();
      return;
    }
    fetchDialog().then(showDialog, function () {
      openSettingsPage(trigger);
    });
  }

  function closeDialog() {
    if (dialog && dialog.open) dialog.close();
  }

  function onDialogClose() {
    showGranted();
    restoreFocus();
  }

  function restoreFocus() {
    var target = opener;
    opener = null;
    if (target && document.documentElement.contains(target) && target.offsetParent !== null) {
      target.focus();
      return;
    }
    var button = control && !control.hasAttribute("hidden") ? control.querySelector("button") : null;
    if (button) button.focus();
  }

  function post(url, payload) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload)
    }).then(function (response) {
      if (!response.ok) throw new Error("consent: HTTP " + response.status);
      return response.json();
    });
  }

  /* The form as a plain post after all, with the button's value (form.submit() leaves it out). */
  function submitPlainly(form, handler, button) {
    form.removeEventListener("submit", handler);
    if (button && button.name) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = button.name;
      field.value = button.value;
      form.appendChild(field);
    }
    form.submit();
  }

  /* The button that submits a form: event.submitter where known, else the one just clicked. */
  function rememberButton(event) {
    var button = nearestWith(event.target, "name");
    clickedButton = button && button.name === "action" ? button : null;
  }

  function onConsentSubmit(event) {
    var form = event.currentTarget;
    var button = event.submitter || clickedButton;
    clickedButton = null;
    if (!canFetch || !button || button.name !== "action" || button.form !== form) return;
    event.preventDefault();
    var categories = [];
    var services = {};
    each(form.querySelectorAll('input[name="category"]'), function (box) {
      if (box.checked && !box.disabled) categories.push(box.value);
    });
    each(serviceSwitches(form), function (box) {
      if (!box.disabled) services[box.name] = box.checked;
    });
    var payload = { action: button.value, categories: categories, services: services, source: "banner" };
    post(form.getAttribute("action"), payload).then(
      function (state) {
        var wasOpen = dialog && dialog.open;
        applyState(state);
        if (wasOpen) {
          closeDialog();
        } else if (control && !control.hasAttribute("hidden")) {
          control.querySelector("button").focus();
        }
      },
      function () {
        submitPlainly(form, onConsentSubmit, button);
      }
    );
  }

  function bindForms(root) {
    each(root.querySelectorAll("form[data-consent-form]"), function (form) {
      form.addEventListener("click", rememberButton);
      form.addEventListener("submit", onConsentSubmit);
      form.addEventListener("change", function (event) {
        if (event.target.name === "category") syncServices(form);
      });
    });
  }

  function onNoticeSubmit(event) {
    var form = event.currentTarget;
    if (!canFetch) return;
    event.preventDefault();
    post(form.getAttribute("action"), { dismiss: true }).then(
      function () {
        hide(notice);
      },
      function () {
        submitPlainly(form, onNoticeSubmit, null);
      }
    );
  }

  /* Embeds ---------------------------------------------------------------------------------- */

  /* The data block's contents: { endpoint, lang, dir, managed, services: { youtube: { item, label,
     category } }, texts }; null when the page has none or it cannot be read. */
  function readEmbeds() {
    if (!embedBlock || !window.JSON) return null;
    try {
      return window.JSON.parse(embedBlock.text);
    } catch (error) {
      return null;
    }
  }

  function warn(message) {
    if (window.console && typeof window.console.warn === "function") window.console.warn(message);
  }

  /* A text with its {provider} and {category} filled in. */
  function fillText(text, values) {
    return text.replace(/\{(provider|category)\}/g, function (hole, name) {
      return values[name];
    });
  }

  /* The service a page names (data-consent-service="youtube"), or null for one the site does not
     offer (and for "constructor" and the like, which are no service either). */
  function knownService(name) {
    var services = embeds.services;
    return Object.prototype.hasOwnProperty.call(services, name) ? services[name] : null;
  }

  function categoryOf(service) {
    return service.item.slice(0, service.item.indexOf("."));
  }

  function textElement(tag, className, text) {
    var element = document.createElement(tag);
    element.className = className;
    element.appendChild(document.createTextNode(text));
    return element;
  }

  function placeholderOf(frame) {
    var id = frame.getAttribute("data-consent-placeholder");
    return id ? document.getElementById(id) : null;
  }

  /* The frame loads its content: its placeholder goes, and the focus moves to the frame if it
     was in the placeholder, so that a keyboard user goes on from there. */
  function loadEmbed(frame) {
    var placeholder = placeholderOf(frame);
    var hadFocus = placeholder !== null && placeholder.contains(document.activeElement);
    frame.setAttribute("src", frame.getAttribute("data-src"));
    frame.removeAttribute("hidden");
    frame.removeAttribute("data-consent-placeholder");
    if (placeholder) placeholder.parentNode.removeChild(placeholder);
    if (hadFocus) frame.focus();
  }

  /* The choice in force with the service granted: its category on (a service is granted only
     with it), the category's other services as they were (off, if it was off), the rest as is. */
  function choiceAllowing(service) {
    var allowed = granted();
    var categories = allowed.filter(function (name) {
      return name.indexOf(".") === -1;
    });
    if (categories.indexOf(categoryOf(service)) === -1) categories.push(categoryOf(service));
    var services = {};
    each(Object.keys(embeds.services), function (name) {
      var item = embeds.services[name].item;
      services[item] = allowed.indexOf(item) !== -1;
    });
    services[service.item] = true;
    return { action: "save", categories: categories, services: services, source: "banner" };
  }

  /* Without fetch (or when it fails) the choice is posted as a form, as without JavaScript: the
     server answers with this page again, where the service is granted. */
  function postPlainly(choice) {
    var form = document.createElement("form");
    function field(name, value) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    form.method = "post";
    form.action = embeds.endpoint;
    field("next", location.pathname + location.search);
    field("action", choice.action);
    each(choice.categories, function (name) {
      field("category", name);
    });
    each(Object.keys(choice.services), function (name) {
      field(name, choice.services[name] ? "on" : "off");
    });
    document.body.appendChild(form);
    form.submit();
  }

  /* "Always allow": the service granted through the API; applyState then loads its embeds. */
  function allowService(service) {
    var choice = choiceAllowing(service);
    if (!canFetch) {
      postPlainly(choice);
      return;
    }
    post(embeds.endpoint, choice).then(applyState, function () {
      postPlainly(choice);
    });
  }

  /* The placeholder before a frame whose service is not granted: what it is, "Load once" and
     "Always allow", and what allowing turns on besides, while its category is off. */
  function placeReplacement(frame, service) {
    placeholders += 1;
    var id = "consent-embed-" + placeholders;
    var texts = embeds.texts;
    var values = { provider: service.label, category: service.category };
    var box = document.createElement("div");
    box.id = id;
    box.className = "consent-embed";
    box.setAttribute("role", "group");
    box.setAttribute("aria-labelledby", id + "-text");
    box.setAttribute("lang", embeds.lang);
    box.setAttribute("dir", embeds.dir);
    var text = textElement("p", "consent-embed__text", fillText(texts["embed.text"], values));
    text.id = id + "-text";
    box.appendChild(text);
    var once = textElement("button", "consent-button", texts["embed.load_once"]);
    var always = textElement("button", "consent-button", fillText(texts["embed.always"], values));
    var note = textElement("p", "consent-embed__note", fillText(texts["embed.category"], values));
    note.id = id + "-note";
    always.id = id + "-always";
    once.type = always.type = "button";
    once.addEventListener("click", function () {
      loadEmbed(frame);
    });
    always.addEventListener("click", function () {
      allowService(service);
    });
    box.appendChild(once);
    box.appendChild(always);
    box.appendChild(note);
    frame.parentNode.insertBefore(box, frame);
    frame.setAttribute("hidden", "");
    frame.setAttribute("data-consent-placeholder", id);
  }

  /* The note on what "Always allow" turns on besides, which is true only while the service's
     category is off; the button is described by it while it shows. */
  function showNote(placeholder, needed) {
    var note = document.getElementById(placeholder.id + "-note");
    var always = document.getElementById(placeholder.id + "-always");
    if (needed) {
      show(note);
      always.setAttribute("aria-describedby", note.id);
    } else {
      hide(note);
      always.removeAttribute("aria-describedby");
    }
  }

  /* Each embed not loaded yet: loaded when its service is granted, else shown by its
     placeholder. An embed of a service the site does not offer stays unloaded. */
  function activateEmbeds() {
    if (!embeds) return;
    var allowed = granted();
    var frames = document.querySelectorAll("iframe[data-consent-service][data-src]:not([src])");
    each(frames, function (frame) {
      var name = frame.getAttribute("data-consent-service");
      var service = knownService(name);
      if (!service) {
        warn("consent: no service \"" + name + "\" is offered; its embed stays unloaded");
      } else if (!embeds.managed || allowed.indexOf(service.item) !== -1) {
        loadEmbed(frame);
      } else {
        var placeholder = placeholderOf(frame);
        if (!placeholder) {
          placeReplacement(frame, service);
          placeholder = placeholderOf(frame);
        }
        showNote(placeholder, allowed.indexOf(categoryOf(service)) === -1);
      }
    });
  }

  if (banner) bindForms(banner);
  /* The dialog only where <dialog> exists; elsewhere "Customise settings" is a plain form. */
  if (dialogMarkup && canDialog) {
    var made = unpack(dialogMarkup, "consent-preferences");
    if (made) adoptDialog(made);
  }
  if (controlMarkup && !control) control = unpack(controlMarkup, "consent-settings-control");
  if (notice) {
    var noticeForm = notice.querySelector("form[data-consent-notice]");
    if (noticeForm) noticeForm.addEventListener("submit", onNoticeSubmit);
  }
  /* Ours, and any element of the site, reopen the settings: <button data-consent-open>. */
  document.addEventListener("click", function (event) {
    var trigger = nearestWith(event.target, "data-consent-open");
    if (trigger) openDialog(event, trigger);
  });
  activateScripts();
  embeds = readEmbeds();
  activateEmbeds();
})();
