// Prints openapi.yaml on stdout; `npm run openapi` writes it to the project root.
import { generateOpenapi } from '../src/openapi.js';

process.stdout.write(await generateOpenapi());
