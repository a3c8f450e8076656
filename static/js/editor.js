/* Structure editor: a JSME applet kept in sync with the SMILES field.
 *
 * Progressive enhancement: without JavaScript the editor block stays hidden and the plain form
 * works. JSME (static/vendor/jsme) is only fetched when a user first opens the editor.
 * Markup (templates/predictions/_predict_form.html):
 *   <div data-structure-editor data-jsme-src="..." data-input="id_smiles" hidden>
 *     <button data-editor-toggle aria-expanded="false" aria-controls="PANEL">Draw</button>
 *     <div id="PANEL" hidden><div class="jsme-container" id="..."></div></div>
 *   </div>
 * Once the applet exists, its container gets `data-editor-ready` and a `jsmeApplet` property.
 */
(function () {
  "use strict";

  var editors = [];
  var jsmeState = "idle"; // idle -> loading -> ready

  function loadJsme(src) {
    if (jsmeState !== "idle") return;
    jsmeState = "loading";
    var script = document.createElement("script");
    script.src = src;
    script.async = true;
    document.head.appendChild(script);
  }

  // JSME calls this global once its code has loaded.
  window.jsmeOnLoad = function () {
    jsmeState = "ready";
    editors.forEach(function (editor) {
      if (editor.open && !editor.applet) createApplet(editor);
    });
  };

  function appletSize(container) {
    var width = Math.max(280, Math.min(container.clientWidth || 480, 640));
    return { width: width + "px", height: Math.round(Math.min(width * 0.75, 420)) + "px" };
  }

  function createApplet(editor) {
    var size = appletSize(editor.container);
    // The initial molecule goes in as a parameter: reading it straight after construction is lost.
    var params = {};
    if (editor.input.value.trim()) params.smiles = editor.input.value.trim();
    var applet = new window.JSApplet.JSME(editor.container.id, size.width, size.height, params);
    editor.applet = applet;
    editor.container.jsmeApplet = applet;
    applet.setCallBack("AfterStructureModified", function () {
      if (editor.readingText) return; // the change came from the text field: leave it alone
      editor.input.value = applet.smiles();
      editor.input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    editor.container.setAttribute("data-editor-ready", "");
    editor.status.textContent = "Editor ready. Drawing updates the SMILES field.";
  }

  function readSmiles(editor, smiles) {
    editor.readingText = true;
    try {
      if (smiles) editor.applet.readGenericMolecularInput(smiles);
      else editor.applet.reset();
    } catch (err) {
      // A half-typed SMILES cannot be drawn yet; the server validates on submit.
    } finally {
      editor.readingText = false;
    }
  }

  function setOpen(editor, open) {
    editor.open = open;
    editor.panel.hidden = !open;
    editor.toggle.setAttribute("aria-expanded", String(open));
    if (!open) return;
    if (editor.applet) readSmiles(editor, editor.input.value.trim());
    else if (jsmeState === "ready") createApplet(editor);
    else {
      editor.status.textContent = "Loading the structure editor…";
      loadJsme(editor.root.getAttribute("data-jsme-src"));
    }
  }

  function setUp(root) {
    var editor = {
      root: root,
      input: document.getElementById(root.getAttribute("data-input")),
      toggle: root.querySelector("[data-editor-toggle]"),
      panel: document.getElementById(root.querySelector("[data-editor-toggle]").getAttribute("aria-controls")),
      container: root.querySelector(".jsme-container"),
      status: root.querySelector("[data-editor-status]"),
      applet: null,
      open: false,
      readingText: false
    };
    if (!editor.input || !editor.panel || !editor.container) return;
    editors.push(editor);
    root.hidden = false;
    editor.toggle.addEventListener("click", function () {
      setOpen(editor, !editor.open);
    });
    var timer = null;
    editor.input.addEventListener("input", function () {
      if (!editor.applet) return;
      clearTimeout(timer);
      timer = setTimeout(function () {
        readSmiles(editor, editor.input.value.trim());
      }, 300);
    });
    if (root.hasAttribute("data-open")) setOpen(editor, true);
  }

  document.querySelectorAll("[data-structure-editor]").forEach(setUp);

  // Links such as the result page's "Edit this structure" open the editor as well as scrolling.
  document.querySelectorAll("[data-open-editor]").forEach(function (link) {
    link.addEventListener("click", function () {
      if (editors.length && !editors[0].open) setOpen(editors[0], true);
    });
  });
})();
