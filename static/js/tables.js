/* Wide tables scroll inside their own box, and say so.
 *
 * Markup: <div class="table-scroll" data-scroll-hint tabindex="0" role="region" aria-label="...">
 *           <table>...</table></div>
 * When the table is wider than the box, the box gets `data-overflowing` and CSS shows the
 * "scroll sideways" hint above it (and edge shadows, which work without JavaScript too).
 * Re-checked on resize and after htmx swaps (the batch rows are refreshed while they arrive).
 */
(function () {
  "use strict";

  function check(box) {
    var wide = box.scrollWidth > box.clientWidth + 1;
    if (wide) box.setAttribute("data-overflowing", "");
    else box.removeAttribute("data-overflowing");
  }

  function checkAll() {
    var boxes = document.querySelectorAll("[data-scroll-hint]");
    for (var i = 0; i < boxes.length; i++) check(boxes[i]);
  }

  document.addEventListener("DOMContentLoaded", checkAll);
  window.addEventListener("load", checkAll); // pictures change the widths
  window.addEventListener("resize", checkAll);
  document.addEventListener("htmx:afterSettle", checkAll);
})();
