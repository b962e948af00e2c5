/* Admin pages: small, optional enhancements. Every page works without this file.
   - YAML editor: a problem's "line N" link also puts the cursor on that line of the text area;
   - rule examples: an "Add an example row" button (without it, saving offers new empty rows). */
(function () {
  "use strict";

  var editor = document.querySelector("textarea[data-yaml-editor]");
  if (editor) {
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-line]") : null;
      if (!link) {
        return;
      }
      var line = parseInt(link.getAttribute("data-line"), 10);
      var lines = editor.value.split("\n");
      if (!(line >= 1 && line <= lines.length)) {
        return;
      }
      var start = 0;
      for (var i = 0; i < line - 1; i++) {
        start += lines[i].length + 1;
      }
      editor.focus();
      editor.setSelectionRange(start, start + lines[line - 1].length);
      var lineHeight = parseFloat(window.getComputedStyle(editor).lineHeight) || 16;
      editor.scrollTop = Math.max(0, (line - 5) * lineHeight);
    });
  }

  var examples = document.querySelector("table.examples tbody");
  if (examples && examples.rows.length) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = "Add an example row";
    button.addEventListener("click", function () {
      var rows = examples.rows;
      var template = rows[rows.length - 1];
      var index = rows.length;
      var row = template.cloneNode(true);
      row.id = "example-" + (index + 1);
      row.className = "";
      row.cells[0].textContent = String(index + 1);
      var fields = row.querySelectorAll("input, textarea, select");
      for (var i = 0; i < fields.length; i++) {
        var field = fields[i];
        field.name = field.name.replace(/^examples-\d+-/, "examples-" + index + "-");
        var label = field.getAttribute("aria-label");
        if (label) {
          field.setAttribute("aria-label", label.replace(/\d+/, String(index + 1)));
        }
        if (field.type === "checkbox") {
          field.checked = false;
        } else if (field.tagName === "SELECT") {
          field.value = "no";
        } else {
          field.value = "";
        }
      }
      var errors = row.querySelectorAll(".field-error");
      for (var j = 0; j < errors.length; j++) {
        errors[j].parentNode.removeChild(errors[j]);
      }
      examples.appendChild(row);
      var first = row.querySelector("textarea");
      if (first) {
        first.focus();
      }
    });
    var fieldset = examples.parentNode.parentNode.parentNode;
    var hint = fieldset.querySelector("[data-without-script]");
    if (hint) {
      hint.parentNode.removeChild(hint);
    }
    fieldset.appendChild(button);
  }
}());
