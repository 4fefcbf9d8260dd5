/* asgi-consent: enhances the banner, dialog and notice. Without it, every form still works. */
(function () {
  "use strict";

  var banner = document.getElementById("consent-banner");
  var dialog = document.getElementById("consent-preferences");
  var control = document.getElementById("consent-settings-control");
  var notice = document.getElementById("browser-notice");
  var opener = null;

  /* The choice in force, as the server rendered it (and as the last answer updated it). */
  function granted() {
    var holder = control || dialog;
    var value = holder ? holder.getAttribute("data-granted") || "" : "";
    return value.split(" ").filter(Boolean);
  }

  /* Scripts marked <script type="text/plain" data-consent-category="analytics"> run once allowed. */
  function activateScripts() {
    var allowed = granted();
    var scripts = document.querySelectorAll('script[type="text/plain"][data-consent-category]');
    Array.prototype.forEach.call(scripts, function (script) {
      if (allowed.indexOf(script.getAttribute("data-consent-category")) === -1) return;
      var live = document.createElement("script");
      Array.prototype.forEach.call(script.attributes, function (attribute) {
        if (attribute.name !== "type") live.setAttribute(attribute.name, attribute.value);
      });
      var type = script.getAttribute("data-consent-type");
      if (type) live.setAttribute("type", type);
      live.text = script.text;
      script.parentNode.replaceChild(live, script);
    });
  }

  /* The switches show the choice in force: closing the dialog without saving drops changes. */
  function showGranted() {
    if (!dialog) return;
    var names = granted();
    Array.prototype.forEach.call(dialog.querySelectorAll('input[name="category"]'), function (box) {
      if (!box.disabled) box.checked = names.indexOf(box.value) !== -1;
    });
  }

  function applyState(state) {
    var names = Object.keys(state.categories).filter(function (name) {
      return state.categories[name];
    });
    [control, dialog].forEach(function (holder) {
      if (!holder) return;
      holder.setAttribute("data-granted", names.join(" "));
      holder.setAttribute("data-decided", state.decided ? "true" : "false");
    });
    showGranted();
    if (state.decided) {
      if (banner) banner.hidden = true;
      if (control) control.hidden = false;
    }
    activateScripts();
    document.dispatchEvent(new CustomEvent("consent:change", { detail: state }));
  }

  function showDialog() {
    dialog.showModal();
    /* The first switch the visitor can change (not the hidden "next" field), else a button. */
    var first = dialog.querySelector('input:not([type="hidden"]):not([disabled]), button');
    if (first) first.focus();
  }

  function bindDialog() {
    Array.prototype.forEach.call(dialog.querySelectorAll("form[data-consent-form]"), function (form) {
      form.addEventListener("submit", onConsentSubmit);
    });
    Array.prototype.forEach.call(dialog.querySelectorAll("[data-consent-close]"), function (button) {
      button.addEventListener("click", closeDialog);
    });
    dialog.addEventListener("close", onDialogClose);
  }

  /* A decided visitor's page has no dialog: fetch it, in the page's language, when asked for. */
  function fetchDialog() {
    var form = control && control.querySelector("form");
    if (!form || !window.fetch) return Promise.reject(new Error("consent: no dialog"));
    var url = form.getAttribute("action") + "?fragment=dialog&next=" +
      encodeURIComponent(location.pathname + location.search);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("consent: HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        dialog = holder.querySelector("#consent-preferences");
        if (!dialog) throw new Error("consent: no dialog in the answer");
        document.body.appendChild(dialog);
        bindDialog();
      });
  }

  function openDialog(event, trigger) {
    if (dialog && typeof dialog.showModal !== "function") return;
    if (!dialog && typeof HTMLDialogElement !== "function") return;
    event.preventDefault();
    opener = trigger;
    if (dialog) {
      showDialog();
      return;
    }
    fetchDialog().then(showDialog, function () {
      var form = trigger.closest("form");
      if (form) form.submit(); /* the settings page, as without JavaScript */
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
    if (target && document.contains(target) && target.offsetParent !== null) {
      target.focus();
      return;
    }
    var button = control && !control.hidden ? control.querySelector("button") : null;
    if (button) button.focus();
  }

  function post(form, payload) {
    return fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    }).then(function (response) {
      if (!response.ok) throw new Error("consent: HTTP " + response.status);
      return response.json();
    });
  }

  function onConsentSubmit(event) {
    var form = event.currentTarget;
    var submitter = event.submitter;
    if (!submitter || submitter.name !== "action" || !window.fetch) return;
    event.preventDefault();
    var categories = Array.prototype.filter
      .call(form.querySelectorAll('input[name="category"]'), function (box) {
        return box.checked && !box.disabled;
      })
      .map(function (box) {
        return box.value;
      });
    post(form, { action: submitter.value, categories: categories, source: "banner" })
      .then(function (state) {
        var wasOpen = dialog && dialog.open;
        applyState(state);
        if (wasOpen) {
          closeDialog();
        } else if (control && !control.hidden) {
          control.querySelector("button").focus();
        }
      })
      .catch(function () {
        form.removeEventListener("submit", onConsentSubmit);
        form.requestSubmit(submitter);
      });
  }

  function onNoticeSubmit(event) {
    var form = event.currentTarget;
    if (!window.fetch) return;
    event.preventDefault();
    post(form, { dismiss: true })
      .then(function () {
        notice.hidden = true;
      })
      .catch(function () {
        form.removeEventListener("submit", onNoticeSubmit);
        form.submit();
      });
  }

  if (banner) {
    Array.prototype.forEach.call(banner.querySelectorAll("form[data-consent-form]"), function (form) {
      form.addEventListener("submit", onConsentSubmit);
    });
  }
  if (dialog) bindDialog();
  if (notice) {
    var noticeForm = notice.querySelector("form[data-consent-notice]");
    if (noticeForm) noticeForm.addEventListener("submit", onNoticeSubmit);
  }
  /* Ours, and any element of the site, reopen the settings: <button data-consent-open>. */
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-consent-open]");
    if (trigger) openDialog(event, trigger);
  });
  activateScripts();
})();
