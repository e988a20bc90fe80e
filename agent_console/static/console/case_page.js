/* The stand-alone case page (/console/tickets/<number>): loads the case and reloads it when one of
 * its events arrives. A file rather than an inline script: the Content-Security-Policy allows
 * scripts from this origin only. */
"use strict";
(() => {
  const box = document.getElementById("case");
  const number = box.dataset.number;
  const load = () => Hotline.guarded(() => Case.open(box, number, {standalone: true, onChanged: load}));
  Hotline.live((name, p) => {
    if (name === "contact.progress") Case.contactProgress(p);
    if (p.number === number) load();
  }, load);
})();
