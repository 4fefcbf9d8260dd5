/* asgi-consent: Google Consent Mode v2, set by the server.
 *
 * Loaded synchronously right after the page's <head> tag, before any other tag of the head, so
 * that the visitor's consent is in force before a Google tag reads it. The state comes from
 * this script element's data attributes, which the server wrote from the visitor's verified
 * choice: data-granted (our categories granted now), data-types (each category's Google
 * consent types: "analytics=analytics_storage;marketing=ad_storage ad_user_data ..."), and the
 * options data-wait-for-update, data-ads-data-redaction and data-url-passthrough. A type is
 * granted when every category mapped onto it is; a type no category names is denied.
 *
 * After a choice on the page, consent.js dispatches "consent:change" and this script calls
 * gtag("consent", "update", ...) with the new state. ES5, so that Internet Explorer 11 runs it;
 * it lacks document.currentScript, so there the script is the last one parsed so far.
 */
(function () {
  "use strict";

  /* Google's consent types, in the order the commands list them: the server writes its own list
   * (GOOGLE_CONSENT_TYPES in consent.settings) in here as it loads this file. A page's tag names
   * only the types its categories map onto; every other type is denied. */
  var TYPES = [/* GOOGLE_CONSENT_TYPES */];

  var script = document.currentScript;
  if (!script) {
    var scripts = document.getElementsByTagName("script");
    script = scripts[scripts.length - 1];
  }

  window.dataLayer = window.dataLayer || [];
  if (typeof window.gtag !== "function") {
    window.gtag = function () {
      window.dataLayer.push(arguments);
    };
  }

  function words(value) {
    return (value || "").split(" ").filter(Boolean);
  }

  var typesOf = {};
  (script.getAttribute("data-types") || "").split(";").forEach(function (entry) {
    var at = entry.indexOf("=");
    if (at > 0) typesOf[entry.slice(0, at)] = words(entry.slice(at + 1));
  });

  /* Each Google type, "granted" or "denied", for the categories granted. */
  function stateFor(granted) {
    var state = {};
    TYPES.forEach(function (type) {
      var named = false;
      var allGranted = true;
      Object.keys(typesOf).forEach(function (category) {
        if (typesOf[category].indexOf(type) === -1) return;
        named = true;
        if (granted.indexOf(category) === -1) allGranted = false;
      });
      state[type] = named && allGranted ? "granted" : "denied";
    });
    return state;
  }

  var initial = stateFor(words(script.getAttribute("data-granted")));
  var wait = parseInt(script.getAttribute("data-wait-for-update") || "0", 10);
  if (wait > 0) initial.wait_for_update = wait;
  window.gtag("consent", "default", initial);
  if (script.getAttribute("data-ads-data-redaction") === "true") {
    window.gtag("set", "ads_data_redaction", true);
  }
  if (script.getAttribute("data-url-passthrough") === "true") {
    window.gtag("set", "url_passthrough", true);
  }

  document.addEventListener("consent:change", function (event) {
    var categories = (event.detail && event.detail.categories) || {};
    var granted = Object.keys(categories).filter(function (name) {
      return categories[name] === true;
    });
    window.gtag("consent", "update", stateFor(granted));
  });
})();
