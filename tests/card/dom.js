// A browser for the card's tests: happy-dom's window as the global scope, then the card module.
import { GlobalRegistrator } from "@happy-dom/global-registrator";

GlobalRegistrator.register({ url: "http://127.0.0.1:8123/", width: 1024, height: 768 });
