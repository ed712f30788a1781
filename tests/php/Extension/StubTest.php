<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Extension;

/**
 * stubs/ticker.stub.php must describe the loaded extension exactly. The stub is loaded under another
 * namespace (the real classes own `Ticker\`), both sides are described through Reflection in the
 * same terms, and the descriptions must be equal.
 */
final class StubTest extends ExtensionTestCase
{
    private const STUB = __DIR__ . '/../../../stubs/ticker.stub.php';
    private const MIRROR = 'TickerStubMirror';

    public function testTheStubDeclaresTheExtensionsClasses(): void
    {
        self::assertSame(self::extensionClasses(), \array_keys(self::stubClasses()));
    }

    public function testTheStubDeclaresTheExtensionsFunctionsAndConstants(): void
    {
        $extension = new \ReflectionExtension('ticker');

        self::assertSame([], \array_keys($extension->getFunctions()), 'the stub declares no functions');
        self::assertSame([], $extension->getConstants(), 'the stub declares no constants');
    }

    /**
     * @dataProvider classes
     */
    public function testTheStubDescribesTheClass(string $class): void
    {
        $stub = self::stubClasses()[$class] ?? null;
        self::assertNotNull($stub, "$class is missing from the stub");

        self::assertSame(self::describe(new \ReflectionClass($class)), self::describe($stub));
    }

    /**
     * @return iterable<string, array{string}>
     */
    public static function classes(): iterable
    {
        // Listed, not read from the extension, so that a provider never depends on what is loaded.
        foreach (['Ticker\Payload', 'Ticker\Worker', 'Ticker\Exception'] as $class) {
            yield $class => [$class];
        }
    }

    /**
     * @return list<string>
     */
    private static function extensionClasses(): array
    {
        $classes = (new \ReflectionExtension('ticker'))->getClassNames();
        \sort($classes);

        return $classes;
    }

    /**
     * @return array<string, \ReflectionClass<object>> by the name the class has in the stub
     */
    private static function stubClasses(): array
    {
        static $classes = null;
        if ($classes !== null) {
            return $classes;
        }

        $source = (string) \file_get_contents(self::STUB);
        $mirrored = \preg_replace('/^namespace Ticker;$/m', 'namespace ' . self::MIRROR . ';', $source, -1, $count);
        self::assertSame(1, $count, 'the stub declares `namespace Ticker;` once');
        $mirrored = \str_replace('\\Ticker\\', '\\' . self::MIRROR . '\\', (string) $mirrored);
        $before = \get_declared_classes();
        eval('?>' . $mirrored);

        $classes = [];
        foreach (\array_diff(\get_declared_classes(), $before) as $name) {
            $classes[self::unmirror($name)] = new \ReflectionClass($name);
        }
        \ksort($classes);

        return $classes;
    }

    /**
     * @param \ReflectionClass<object> $class
     * @return array<string, mixed>
     */
    private static function describe(\ReflectionClass $class): array
    {
        $parent = $class->getParentClass();
        $interfaces = \array_map([self::class, 'unmirror'], $class->getInterfaceNames());
        \sort($interfaces);

        $methods = [];
        foreach ($class->getMethods() as $method) {
            if ($method->getDeclaringClass()->getName() === $class->getName()) {
                $methods[$method->getName()] = self::describeMethod($method);
            }
        }
        \ksort($methods);

        $properties = [];
        foreach ($class->getProperties() as $property) {
            if ($property->getDeclaringClass()->getName() === $class->getName()) {
                $properties[$property->getName()] = [
                    'type' => self::type($property->getType()),
                    'modifiers' => \Reflection::getModifierNames($property->getModifiers()),
                ];
            }
        }
        \ksort($properties);

        $constants = $class->getConstants();
        \ksort($constants);

        return [
            'name' => self::unmirror($class->getName()),
            'modifiers' => \Reflection::getModifierNames($class->getModifiers()),
            'final' => $class->isFinal(),
            'abstract' => $class->isAbstract(),
            'interface' => $class->isInterface(),
            'parent' => $parent === false ? null : self::unmirror($parent->getName()),
            'interfaces' => $interfaces,
            'constants' => $constants,
            'properties' => $properties,
            'methods' => $methods,
        ];
    }

    /**
     * @return array<string, mixed>
     */
    private static function describeMethod(\ReflectionMethod $method): array
    {
        $parameters = [];
        foreach ($method->getParameters() as $parameter) {
            $parameters[] = [
                'name' => $parameter->getName(),
                'type' => self::type($parameter->getType()),
                'optional' => $parameter->isOptional(),
                'nullable' => $parameter->allowsNull(),
                'variadic' => $parameter->isVariadic(),
                'byReference' => $parameter->isPassedByReference(),
                'default' => $parameter->isDefaultValueAvailable()
                    ? \var_export($parameter->getDefaultValue(), true)
                    : null,
            ];
        }

        return [
            'modifiers' => \Reflection::getModifierNames($method->getModifiers()),
            'returnType' => self::type($method->getReturnType() ?? $method->getTentativeReturnType()),
            'parameters' => $parameters,
        ];
    }

    private static function type(?\ReflectionType $type): ?string
    {
        return $type === null ? null : self::unmirror((string) $type);
    }

    private static function unmirror(string $name): string
    {
        return \str_replace(self::MIRROR . '\\', 'Ticker\\', $name);
    }
}
