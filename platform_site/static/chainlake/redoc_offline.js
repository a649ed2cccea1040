// Redoc's sidebar credit shows a logo from the vendor's CDN; the docs are served offline, so any
// image pointing at another host gets the platform's own icon instead (before it is requested).
(function () {
  "use strict";
  const local = document.currentScript.dataset.localImage;
  const outside = (value) => /^(https?:)?\/\//i.test(String(value)) && !String(value).startsWith(location.origin);
  const source = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    get() { return source.get.call(this); },
    set(value) { source.set.call(this, outside(value) ? local : value); },
  });
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && outside(value)) {
      value = local;
    }
    return setAttribute.call(this, name, value);
  };
})();
