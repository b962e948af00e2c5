/* Patient intake: small enhancements. Every page works without this file.
   - moves focus to the error summary, so screen readers announce the problems; on any other new page,
     to its heading, so they start reading at the page's name (not when the address points to a question:
     the browser has already taken the reader there);
   - shows the review page's print button, which prints through the print stylesheet;
   - shows and hides follow-up questions as answers change (the server decides, with the same
     rules it uses when the page is saved);
   - makes a "None of these" box exclusive with the other boxes of its question. */
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  var heading = document.querySelector("main h1");
  if (summary) {
    summary.focus();
  } else if (heading && !window.location.hash) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }

  var printAction = document.querySelector("[data-print-action]");
  if (printAction && window.print) {
    printAction.hidden = false;
    printAction.querySelector("button").addEventListener("click", function () {
      window.print();
    });
  }

  // "None of these" clears the other boxes, and any other box clears "None of these".
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || box.type !== "checkbox" || !box.checked) {
      return;
    }
    var others = document.querySelectorAll('input[type="checkbox"][name="' + box.name + '"]');
    for (var i = 0; i < others.length; i++) {
      var other = others[i];
      if (other !== box && (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive"))) {
        other.checked = false;
      }
    }
  });

  var form = document.querySelector("form[data-live-url]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var triggers = (form.getAttribute("data-live-triggers") || "").split(" ");
  var status = form.querySelector("[data-live-status]");
  var shownField = form.querySelector('input[name="_shown"]');
  var pending = null;
  var sequence = 0;

  function questions() {
    return form.querySelectorAll("[data-item]");
  }

  function setShown(question, show) {
    question.hidden = !show;
    var controls = question.querySelectorAll("input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      controls[i].disabled = !show;
    }
  }

  function apply(hidden) {
    var hiddenSet = {};
    for (var i = 0; i < hidden.length; i++) {
      hiddenSet[hidden[i]] = true;
    }
    var shown = [];
    var added = 0;
    var all = questions();
    for (var j = 0; j < all.length; j++) {
      var id = all[j].getAttribute("data-item");
      var show = !hiddenSet[id];
      if (show && all[j].hidden) {
        added++;
      }
      setShown(all[j], show);
      if (show) {
        shown.push(id);
      }
    }
    if (shownField) {
      shownField.value = shown.join(" ");
    }
    if (status && added) {
      status.textContent = added === 1 ? (status.getAttribute("data-added-one") || "One more question was added below.")
        : (status.getAttribute("data-added-many") || "{n} more questions were added below.").replace("{n}", added);
    }
  }

  function refresh() {
    var mine = ++sequence;
    fetch(form.getAttribute("data-live-url"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && data.hidden && mine === sequence) {
        apply(data.hidden);
      }
    }).catch(function () {
      /* The server still checks everything when the page is saved. */
    });
  }

  function onChange(event) {
    var name = event.target && event.target.name;
    if (triggers.indexOf(name) === -1) {
      return;
    }
    window.clearTimeout(pending);
    pending = window.setTimeout(refresh, event.type === "input" ? 400 : 0);
  }

  form.addEventListener("change", onChange);
  form.addEventListener("input", onChange);
}());
