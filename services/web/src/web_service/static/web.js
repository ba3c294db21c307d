// The only script: preselect the browser's own timezone in a timezone list nobody chose
// from yet. Every page works without it.
(function () {
  var select = document.querySelector('select[data-guess="browser"]');
  if (!select || !window.Intl) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
