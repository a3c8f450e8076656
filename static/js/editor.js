/* Structure editor: a JSME applet kept in sync with the SMILES field.
 *
 * Progressive enhancement: without JavaScript the editor block stays hidden and the plain form
 * works. JSME (static/vendor/jsme) is only fetched when a user first opens the editor.
 * Markup (templates/predictions/_predict_form.html):
 *   <div data-structure-editor data-jsme-src="..." data-input="id_smiles" hidden>
 *     <button data-editor-toggle aria-expanded="false" aria-controls="PANEL">Draw</button>
 *     <div id="PANEL" hidden><div class="jsme-container" id="..."></div></div>
 *   </div>
 * Once the applet exists, its container gets `data-editor-ready` and a `jsmeApplet` property;
 * `data-editor-busy` is set while it is reading the field's SMILES.
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
    script.onload = installCodeWithoutInlineScript;
    document.head.appendChild(script);
  }

  // JSME's GWT loader would run its code in a hidden iframe opened at `javascript:""` by
  // writing the code into inline <script> elements (in Chromium, wrapped in eval): all refused
  // by the site's Content-Security-Policy, which allows scripts from this site (and blob: URLs)
  // only. Its two install hooks are replaced, right after the loader has run and before the
  // code it fetches can arrive (a script's load event fires as soon as it has run): the same
  // code runs in the same kind of frame, from blob: script URLs. Both paths run the code
  // asynchronously anyway (GWT fragments announce themselves when their code has run).
  var codeFrame = null;

  function frameWindow() {
    if (!codeFrame) {
      codeFrame = document.createElement("iframe");
      codeFrame.id = "jsme";
      codeFrame.className = "jsme-code-frame";
      codeFrame.tabIndex = -1;
      codeFrame.setAttribute("aria-hidden", "true");
      document.body.appendChild(codeFrame);
    }
    return codeFrame.contentWindow;
  }

  function runInFrame(code) {
    var frame = frameWindow();
    var url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    var script = frame.document.createElement("script");
    script.src = url;
    script.onload = script.onerror = function () {
      URL.revokeObjectURL(url);
      script.remove();
    };
    frame.document.body.appendChild(script);
  }

  function installCodeWithoutInlineScript() {
    var loader = window.jsme;
    loader.onScriptDownloaded = function (chunks) {
      runInFrame(chunks.join("\n"));
    };
    loader.__installRunAsyncCode = runInFrame;
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
    var size = appletSize(editor.panel);
    var applet = new window.JSApplet.JSME(editor.container.id, size.width, size.height);
    editor.applet = applet;
    editor.container.jsmeApplet = applet;
    applet.setCallBack("AfterStructureModified", function () {
      // Changes that came from the text field (or happen while the user types in it) must not
      // rewrite what the user typed; only drawing in the editor fills the field.
      if (editor.readingText || document.activeElement === editor.input) return;
      editor.input.value = applet.smiles();
      editor.input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    preload(editor, editor.input.value.trim(), 0);
  }

  // JSME reads a molecule asynchronously right after it is created (parts of it load on
  // demand), so retry until the drawing shows the field's molecule, then announce readiness.
  function preload(editor, smiles, attempt) {
    if ((smiles && !editor.applet.smiles() && attempt < 50) || editor.readingText) {
      if (attempt % 10 === 0) readSmiles(editor, smiles);
      setTimeout(function () { preload(editor, smiles, attempt + 1); }, 100);
      return;
    }
    labelHelpers(editor);
    editor.container.setAttribute("data-editor-ready", "");
    editor.status.textContent = "Editor ready: drawing fills the SMILES field, and typing a SMILES updates the drawing.";
  }

  // JSME adds unlabelled text fields for keyboard and clipboard handling (one in the applet,
  // a textarea at the end of <body>): name them so assistive technology does not meet bare
  // fields. The SMILES field stays the accessible way to enter a molecule.
  function labelHelpers(editor) {
    var helpers = editor.container.querySelectorAll("input:not([aria-label]), textarea:not([aria-label])");
    helpers.forEach(function (el) {
      el.removeAttribute("role"); // GWT marks them role="presentation", which a field cannot have
      el.setAttribute("aria-label", "Structure editor keyboard input");
    });
    document.querySelectorAll("body > textarea:not([id]):not([name]):not([aria-label])").forEach(function (el) {
      el.setAttribute("aria-label", "Structure editor clipboard");
    });
  }

  // While JSME reads the field's SMILES the container carries data-editor-busy (tests wait on it).
  function readSmiles(editor, smiles) {
    editor.readingText = true;
    editor.container.setAttribute("data-editor-busy", "");
    try {
      if (smiles) editor.applet.readGenericMolecularInput(smiles);
      else editor.applet.reset();
    } catch (err) {
      // A half-typed SMILES cannot be drawn yet; the server validates on submit.
    }
    // JSME may report the change a moment later: keep ignoring it until then.
    clearTimeout(editor.readingTimer);
    editor.readingTimer = setTimeout(function () {
      editor.readingText = false;
      editor.container.removeAttribute("data-editor-busy");
    }, 250);
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

  // The SMILES box is a textarea (a pasted list keeps its lines); Enter submits as a one-line
  // field would, Shift+Enter starts a new line.
  document.querySelectorAll("textarea.smiles-input").forEach(function (box) {
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || !box.form) return;
      event.preventDefault();
      box.form.requestSubmit();
    });
  });

  // Links such as the result page's "Edit this structure" open the editor as well as scrolling.
  document.querySelectorAll("[data-open-editor]").forEach(function (link) {
    link.addEventListener("click", function () {
      if (editors.length && !editors[0].open) setOpen(editors[0], true);
    });
  });
})();
